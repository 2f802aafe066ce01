"""Decode still images safely: pixel limits before decoding, EXIF orientation, RGB out."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps

from consentry.errors import LimitExceeded, MediaError
from consentry.settings import Limits

_heif_registered = False

# PDQ reduces every image to 64x64; decoding big JPEGs at a DCT-reduced scale keeps the
# hash within a few bits of a full decode at a fraction of the cost (docs/performance.md).
DRAFT_MIN_SIDE = 512
_ORIENTATION = 0x0112  # EXIF tag


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def load_decoders() -> None:
    """Load PIL's common format plugins now (before worker processes fork, so each worker
    does not import them again on its first image)."""
    Image.preinit()


def open_image(data: bytes, fmt: str, limits: Limits) -> Image.Image:
    """Open (header only) and enforce the pixel limit before any pixel is decoded."""
    if fmt == "heif":
        _register_heif()
    # PIL's own bomb check warns or raises at its defaults; we enforce our limit instead.
    Image.MAX_IMAGE_PIXELS = None
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as exc:  # PIL raises many types for garbage input
        raise MediaError(f"not a readable {fmt} image: {exc}", code="corrupt") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        raise MediaError(f"image declares an empty size {width}x{height}", code="corrupt")
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            f"image declares {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limits.max_pixels:,} (possible decompression bomb; raise --max-pixels to allow)"
        )
    return img


def frame_count(img: Image.Image) -> int:
    return int(getattr(img, "n_frames", 1) or 1)


def _draft_size(img: Image.Image, fast_jpeg: bool) -> tuple[int, int] | None:
    if fast_jpeg and min(img.size) >= 2 * DRAFT_MIN_SIDE:
        return img.size[0] // 2, img.size[1] // 2
    return None


def decode_rgb(img: Image.Image, *, fast_jpeg: bool) -> np.ndarray:
    """Decode to an HxWx3 uint8 array with EXIF orientation applied (big JPEGs at half
    scale when ``fast_jpeg``)."""
    with _corrupt_data_is_media_error():
        if img.format == "JPEG" and (size := _draft_size(img, fast_jpeg)):
            img.draft("RGB", size)
        img = _load_oriented(img)
        if img.mode != "RGB":
            img = _to_rgb(img)
        return np.asarray(img, dtype=np.uint8)


def decode_jpeg_luma(img: Image.Image, *, fast_jpeg: bool) -> np.ndarray | None:
    """A JPEG's Y plane alone as HxW uint8, EXIF orientation applied; None for anything else.

    libjpeg then skips the colour planes' inverse DCT, upsampling and colour conversion. JPEG's
    Y is 0.299 R + 0.587 G + 0.114 B of the encoder's input, the luma PDQ asks for.
    """
    if img.format != "JPEG" or img.mode not in ("RGB", "L"):  # CMYK and others: decode_rgb
        return None
    with _corrupt_data_is_media_error():
        img.draft("L", _draft_size(img, fast_jpeg))
        if img.mode != "L":
            return None
        return np.asarray(_load_oriented(img), dtype=np.uint8)


@contextmanager
def _corrupt_data_is_media_error() -> Iterator[None]:
    try:
        yield
    except MediaError:
        raise
    except Exception as exc:  # PIL raises many types for bad pixel data
        raise MediaError(f"image data is truncated or corrupt: {exc}", code="corrupt") from exc


def _load_oriented(img: Image.Image) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img.load()
        if img.getexif().get(_ORIENTATION, 1) != 1:  # transposing copies the whole image
            img = ImageOps.exif_transpose(img) or img
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / peak)).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels are composited on white, as viewers show them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
