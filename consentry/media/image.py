"""Decode still images safely: pixel limits before decoding, EXIF orientation, RGB out."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from consentry.errors import LimitExceeded, MediaError
from consentry.settings import Limits
from consentry.types import MediaInfo, MediaKind

_heif_registered = False

# PDQ reduces every image to 64x64; decoding big JPEGs at a DCT-reduced scale keeps the
# hash within a few bits of a full decode at a fraction of the cost (docs/performance.md).
DRAFT_MIN_SIDE = 512
_ORIENTATION = 0x0112  # EXIF tag
_TURNING = {5, 6, 7, 8}  # orientations that swap width and height
# Huffman-coded JPEG spends at least one bit on each 8x8 block's DC coefficient, so a real
# JPEG holds at least pixels / 512 bytes; one that declares a big size with far less data is
# truncated or hostile (its missing blocks decode as flat grey and hash as quality 0).
JPEG_MIN_BYTES_PER_PIXEL = 1 / 1024
JPEG_SIZE_CHECK_PIXELS = 4_000_000  # below this a decode is cheap and the check pointless
# Browsers show animation frames with no delay, or one of 10 ms or less, for 100 ms.
DEFAULT_FRAME_DELAY_MS = 100.0
PAGE_SECONDS = 1.0  # a multi-page TIFF's pages are numbered as if one a second


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
    # The bytes are in memory already: hand them to the decoder in one piece, not 64 KiB
    # pieces it must suspend and resume between (about 4% of a JPEG decode).
    img.decodermaxblock = max(img.decodermaxblock, len(data))
    width, height = img.size
    if width <= 0 or height <= 0:
        raise MediaError(f"image declares an empty size {width}x{height}", code="corrupt")
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            f"image declares {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limits.max_pixels:,} (possible decompression bomb; raise --max-pixels to allow)"
        )
    if (img.format == "JPEG" and width * height >= JPEG_SIZE_CHECK_PIXELS
            and len(data) < width * height * JPEG_MIN_BYTES_PER_PIXEL):
        raise MediaError(
            f"JPEG declares {width}x{height} pixels but holds only {len(data):,} bytes: "
            "truncated or hostile", code="corrupt")
    return img


def frame_count(img: Image.Image) -> int:
    """Frames (or pages) in the file; counting reads every frame's header, so a broken one
    is found here (PIL raises TypeError, KeyError ... for a page without a size)."""
    with _corrupt_data_is_media_error():
        return int(getattr(img, "n_frames", 1) or 1)


@dataclass
class ImageFrame:
    """One frame of an animated image or one page of a multi-page TIFF, as a video consumer
    receives it (the interface of ``consentry.media.video.VideoFrame``)."""

    index: int
    timestamp: float  # seconds since the first frame was shown (pages: PAGE_SECONDS apart)
    pts_time: float | None
    _image: Image.Image  # RGB

    @property
    def rgb(self) -> np.ndarray:
        return np.asarray(self._image, dtype=np.uint8)

    def rgb_scaled(self, max_side: int) -> np.ndarray:
        w, h = self._image.size
        scale = max_side / max(w, h)
        if scale >= 1.0:
            return self.rgb
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        return np.asarray(self._image.resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)


def animation_info(img: Image.Image, fmt: str, limits: Limits) -> MediaInfo:
    """An animated image or multi-page TIFF as a video: every frame (or page) is analysed.
    Frame delays vary within a file, so no frame rate is claimed (``fps`` None)."""
    frames = frame_count(img)
    if frames > limits.max_frames:
        raise LimitExceeded(f"image holds {frames:,} frames, over the limit of {limits.max_frames:,}")
    width, height = img.size
    return MediaInfo(kind=MediaKind.VIDEO, container=fmt, codec=fmt, width=width, height=height,
                     duration=None, fps=None, frame_count=frames)


def iter_image_frames(img: Image.Image, limits: Limits) -> Iterator[ImageFrame]:
    """Every frame of an animated GIF/APNG/WebP, or every page of a TIFF, composited as a
    viewer shows it (transparency on white, EXIF orientation applied), within the pixel
    limit for each page and the decode-time limit for the whole file."""
    started = time.monotonic()
    shown_ms = 0.0
    pages = img.format == "TIFF"
    for index in range(frame_count(img)):
        if time.monotonic() - started > limits.max_decode_s:
            raise LimitExceeded(f"decoding took longer than {limits.max_decode_s:.0f} s "
                                f"(stopped at frame {index}; raise --max-decode-seconds to allow)")
        with _corrupt_data_is_media_error():
            _seek_within(img, index, limits)
            width, height = img.size  # a TIFF's pages each have their own size
            if width * height > limits.max_pixels:
                raise LimitExceeded(f"frame {index} declares {width}x{height} pixels, over the "
                                    f"limit of {limits.max_pixels:,}")
            frame, _turned = _load_oriented(img)
            rgb = frame.copy() if frame.mode == "RGB" else _to_rgb(frame)
            delay = img.info.get("duration") or 0.0
        timestamp = index * PAGE_SECONDS if pages else shown_ms / 1000.0
        shown_ms += float(delay) if float(delay) > 10 else DEFAULT_FRAME_DELAY_MS
        yield ImageFrame(index, round(timestamp, 3), None, rgb)


@dataclass(frozen=True)
class DecodedImage:
    """Decoded pixels, and the size of the full image when they are a reduced-scale decode
    (PDQ then applies Meta's full-size downsampling to them: ``pdq.from_luma``)."""

    pixels: np.ndarray  # HxWx3 uint8 RGB, or HxW uint8 luma
    full_shape: tuple[int, int]  # (rows, cols) at full size, EXIF orientation applied


def _draft_size(img: Image.Image, fast_jpeg: bool) -> tuple[int, int] | None:
    if fast_jpeg and min(img.size) >= 2 * DRAFT_MIN_SIDE:
        return img.size[0] // 2, img.size[1] // 2
    return None


def decode(img: Image.Image, *, fast_jpeg: bool, luma_only: bool = False) -> DecodedImage:
    """Decode with EXIF orientation applied: big JPEGs at half scale when ``fast_jpeg``, and
    a JPEG's Y plane alone when ``luma_only`` (else RGB)."""
    if luma_only and (luma := decode_jpeg_luma(img, fast_jpeg=fast_jpeg)) is not None:
        return luma
    with _corrupt_data_is_media_error():
        full_size = img.size
        if img.format == "JPEG" and (size := _draft_size(img, fast_jpeg)):
            img.draft("RGB", size)
        img, turned = _load_oriented(img)
        if img.mode != "RGB":
            img = _to_rgb(img)
        return DecodedImage(np.asarray(img, dtype=np.uint8), _full_shape(full_size, turned))


def decode_rgb(img: Image.Image, *, fast_jpeg: bool) -> np.ndarray:
    """An HxWx3 uint8 array, EXIF orientation applied (big JPEGs at half scale when
    ``fast_jpeg``)."""
    return decode(img, fast_jpeg=fast_jpeg).pixels


def decode_jpeg_luma(img: Image.Image, *, fast_jpeg: bool) -> DecodedImage | None:
    """A JPEG's Y plane alone as HxW uint8, EXIF orientation applied; None for anything else.

    libjpeg then skips the colour planes' inverse DCT, upsampling and colour conversion. JPEG's
    Y is 0.299 R + 0.587 G + 0.114 B of the encoder's input, the luma PDQ asks for.
    """
    if img.format != "JPEG" or img.mode not in ("RGB", "L"):  # CMYK and others: RGB
        return None
    with _corrupt_data_is_media_error():
        full_size = img.size
        img.draft("L", _draft_size(img, fast_jpeg))
        img, turned = _load_oriented(img)
        if img.mode != "L":  # not expected for RGB and grey JPEGs: PIL's own luma then
            img = img.convert("L")
        return DecodedImage(np.asarray(img, dtype=np.uint8), _full_shape(full_size, turned))


def _full_shape(size: tuple[int, int], turned: bool) -> tuple[int, int]:
    width, height = size
    return (width, height) if turned else (height, width)


def _seek_within(img: Image.Image, index: int, limits: Limits) -> None:
    """``img.seek(index)`` with the pixel limit enforced inside it: a GIF frame may declare a
    canvas far larger than the file's (31333x27208 from 5.7 KB, found by fuzz_media), and
    PIL allocates that canvas while seeking, before the frame's size can be read. PIL's own
    bomb check runs there first and raises above twice MAX_IMAGE_PIXELS, so for the seek that
    is set to half our limit (and back to None: open_image enforces the limit itself)."""
    Image.MAX_IMAGE_PIXELS = limits.max_pixels / 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit decides
            img.seek(index)
    except Image.DecompressionBombError:
        raise LimitExceeded(f"frame {index} declares a canvas over the limit of "
                            f"{limits.max_pixels:,} pixels (possible decompression bomb; "
                            "raise --max-pixels to allow)") from None
    finally:
        Image.MAX_IMAGE_PIXELS = None


@contextmanager
def _corrupt_data_is_media_error() -> Iterator[None]:
    try:
        yield
    except MediaError:
        raise
    except MemoryError:
        raise LimitExceeded("ran out of memory decoding this image (over the worker memory cap: "
                            "--max-worker-memory)") from None
    except Exception as exc:  # PIL raises many types for bad pixel data
        raise MediaError(f"image data is truncated or corrupt: {exc}", code="corrupt") from exc


def _load_oriented(img: Image.Image) -> tuple[Image.Image, bool]:
    """Load and apply EXIF orientation; also whether that turned the image by 90 degrees."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img.load()
        orientation = img.getexif().get(_ORIENTATION, 1)
        if orientation != 1:  # transposing copies the whole image
            img = ImageOps.exif_transpose(img) or img
    return img, orientation in _TURNING


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag of a loaded image (1 when absent or not 1-8)."""
    try:
        value = int(img.getexif().get(_ORIENTATION, 1))
    except Exception:  # unreadable EXIF: the pixels were shown as stored
        return 1
    return value if 1 <= value <= 8 else 1


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
