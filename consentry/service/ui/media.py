"""Pictures of retained media for the item page. Before a reveal the browser only ever gets
blurred, greyscale JPEGs made here (the original bytes never leave the server), at the
blur the reviewer chose for themselves (never below ``MIN_BLUR`` percent of the default);
after the one audited reveal it gets the picture in colour, re-encoded (no metadata)."""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps

from consentry.actions.protect import protect

BLUR_CHOICES = (100, 75, 50, 25)
MIN_BLUR = 25
KEYFRAMES = 6


def _jpeg(img: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    (img if img.mode == "L" else img.convert("RGB")).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _still(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.seek(0)
    img = ImageOps.exif_transpose(img)
    img.thumbnail((1024, 1024))
    return img.convert("RGB")


def blurred(img: Image.Image, percent: int) -> bytes:
    """Greyscale and blurred; 100 percent is exactly the report's ``protect``."""
    jpeg = _jpeg(img, 90)
    percent = max(MIN_BLUR, min(100, percent))
    if percent == 100:
        return protect(jpeg, blur=True)
    radius = max(img.size) / 40 * percent / 100
    grey = ImageOps.grayscale(img).filter(ImageFilter.GaussianBlur(radius=radius))
    return _jpeg(grey, 70)


def picture(data: bytes, kind: str | None, *, revealed: bool, percent: int) -> bytes:
    """The still of an image (or a video's first keyframe)."""
    img = _still(data) if kind != "video" else keyframe_images(data, 1)[0]
    return _jpeg(img) if revealed else blurred(img, percent)


def keyframe_images(data: bytes, n: int = KEYFRAMES) -> list[Image.Image]:
    """``n`` frames spread over the video (decoded from memory; nothing written to disk)."""
    import av

    frames: list[Image.Image] = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        step = max(1, total // n) if total else 1
        for i, frame in enumerate(container.decode(stream)):
            if i % step == 0:
                img = frame.to_image()
                img.thumbnail((320, 320))
                frames.append(img)
            if len(frames) >= n:
                break
    if not frames:
        raise ValueError("the video has no frames")
    return frames


def keyframe(data: bytes, index: int, *, revealed: bool, percent: int) -> bytes:
    frames = keyframe_images(data)
    img = frames[max(0, min(index, len(frames) - 1))]
    return _jpeg(img) if revealed else blurred(img, percent)
