"""Our numpy PDQ against Meta's C++ PDQ (the ``pdqhash`` binding), bit for bit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from consentry.media.image import decode_jpeg_luma, decode_rgb, open_image
from consentry.settings import Limits
from consentry.signals.hashing import pdq
from consentry.testing.samples import synthetic_scene
from tests.conftest import THREATEXCHANGE, need

pdqhash = pytest.importorskip("pdqhash", reason="the dev extra installs Meta's C++ binding")


def _cpp(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return pdq.bits_to_hex(bits), int(quality)


def _cpp_dihedral(rgb: np.ndarray) -> list[str]:
    hashes, _quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    return [pdq.bits_to_hex(h) for h in hashes]


def _reference_images() -> list[np.ndarray]:
    images = []
    for path in sorted((need(THREATEXCHANGE) / "pdq" / "data").rglob("*")):
        if path.is_file():
            try:
                images.append(decode_rgb(open_image(path.read_bytes(), "x", Limits()), fast_jpeg=False))
            except Exception:
                continue  # the folder also holds files PIL does not read
    return images


def _odd_sizes() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    shapes = [(5, 5), (64, 64), (63, 65), (7, 300), (129, 257), (1000, 9), (1080, 1920)]
    out = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for shape in shapes]
    out.append(np.asarray(synthetic_scene(3, (1280, 720)).convert("RGB")))
    return out


def test_pdq_equals_meta_cpp_on_reference_images_and_odd_sizes() -> None:
    images = _reference_images() + _odd_sizes()
    assert len(images) > 50
    exact = 0
    for rgb in images:
        cpp_hex, cpp_quality = _cpp(rgb)
        ours = pdq.compute(rgb)
        assert ours.quality == cpp_quality
        # float32 sums in another order may move a coefficient across the median
        assert pdq.distance(ours.hex, cpp_hex) <= 2
        exact += ours.hex == cpp_hex
    assert exact / len(images) >= 0.95


def test_dihedral_hashes_equal_meta_cpp() -> None:
    images = _reference_images()[:20] + _odd_sizes()
    for rgb in images:
        ours = pdq.dihedral_from_luma(pdq.luma_from_rgb(rgb))
        assert [h.quality for h in ours] == [pdq.compute(rgb).quality] * 8
        for mine, theirs in zip(ours, _cpp_dihedral(rgb), strict=True):
            assert pdq.distance(mine.hex, theirs) <= 2


def test_images_under_five_pixels_hash_to_zero_like_meta() -> None:
    rgb = np.full((4, 100, 3), 200, dtype=np.uint8)
    assert pdq.compute(rgb) == pdq.PdqHash("0" * 64, 0)
    assert _cpp(rgb) == ("0" * 64, 0)


def test_jpeg_y_plane_gives_the_hash_of_the_decoded_rgb() -> None:
    """JPEG's Y is the luma PDQ asks for: hashing it equals hashing the decoded colours."""
    scene = synthetic_scene(11, (1600, 1200)).convert("RGB")
    buffer = io.BytesIO()
    scene.save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    decoded = decode_jpeg_luma(open_image(data, "jpeg", Limits()), fast_jpeg=False)
    rgb = decode_rgb(open_image(data, "jpeg", Limits()), fast_jpeg=False)
    assert decoded is not None and decoded.pixels.shape == rgb.shape[:2] == decoded.full_shape
    from_y, from_rgb = pdq.from_luma(decoded.pixels), pdq.compute(rgb)
    assert from_rgb.quality >= 50
    assert pdq.distance(from_y.hex, from_rgb.hex) <= 2
    assert pdq.distance(from_y.hex, _cpp(rgb)[0]) <= 2


def test_y_plane_is_not_used_for_cmyk_jpegs() -> None:
    buffer = io.BytesIO()
    synthetic_scene(2, (300, 200)).convert("CMYK").save(buffer, format="JPEG")
    img = open_image(buffer.getvalue(), "jpeg", Limits())
    assert decode_jpeg_luma(img, fast_jpeg=True) is None
    img = open_image(buffer.getvalue(), "jpeg", Limits())
    assert decode_rgb(img, fast_jpeg=True).shape == (200, 300, 3)


def test_png_has_no_y_plane() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), (10, 20, 30)).save(buffer, format="PNG")
    assert decode_jpeg_luma(open_image(buffer.getvalue(), "png", Limits()), fast_jpeg=True) is None
