"""PDQ, Meta's perceptual photo hash (via the ``pdqhash`` binding of Meta's C++ code).

Hashes are 256 bits written as 64 lowercase hex characters, most significant bit first,
exactly as ThreatExchange exchanges them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pdqhash

HEX_LEN = 64
# Meta's dihedral order: original, rotate 90, 180, 270, flip x, flip y, flip +1, flip -1.
DIHEDRAL_NAMES = ("original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flip+1", "flip-1")


@dataclass(frozen=True)
class PdqHash:
    hex: str
    quality: int


def bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def hex_to_bytes(hex_hash: str) -> bytes:
    value = bytes.fromhex(hex_hash)
    if len(value) != 32:
        raise ValueError(f"a PDQ hash is 64 hex characters, got {len(hex_hash)}")
    return value


def is_valid_hex(hex_hash: str) -> bool:
    if len(hex_hash) != HEX_LEN:
        return False
    try:
        bytes.fromhex(hex_hash)
    except ValueError:
        return False
    return True


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def compute(rgb: np.ndarray) -> PdqHash:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return PdqHash(bits_to_hex(bits), int(quality))


def compute_dihedral(rgb: np.ndarray) -> list[PdqHash]:
    # One quality for all eight: the transforms permute pixels, they do not change gradients.
    hashes, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    return [PdqHash(bits_to_hex(h), int(quality)) for h in hashes]
