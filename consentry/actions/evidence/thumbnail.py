"""The one picture an evidence report may hold, at the reviewer's choice: greyscale and blurred
far beyond the review UI's default (shrunk to a few dozen pixels, then blurred again), enough
to tell which item a report is about, never to see what it shows."""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps

SIDE = 160  # pixels of the longest side, as shown
_TINY = 24  # pixels of the longest side before it is scaled back up


def strongly_blurred(image_bytes: bytes) -> bytes:
    """A JPEG of ``image_bytes`` (any still Pillow reads), greyscale and strongly blurred."""
    img = Image.open(io.BytesIO(image_bytes))
    img.seek(0)
    img = ImageOps.grayscale(ImageOps.exif_transpose(img))
    img.thumbnail((_TINY, _TINY), Image.Resampling.BOX)
    scale = SIDE / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(radius=SIDE / 16))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=70)
    return out.getvalue()
