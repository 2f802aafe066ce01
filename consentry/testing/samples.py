"""Sample media for demos and tests, generated here (nothing downloaded).

The photo is scikit-image's public-domain astronaut (Eileen Collins, NASA); the rest are
synthetic shapes. Edited variants show which edits PDQ survives.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def synthetic_scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A random arrangement of coloured shapes on a gradient (distinct per seed)."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    w, h = size
    gradient = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * rng.uniform(0.2, 1, 3)
    base = np.broadcast_to(gradient, (h, w, 3)).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(base))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(20, w // 2), y0 + rng.integers(20, h // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
    return img


def write_video(path: Path, frames: int = 90, fps: int = 30, size: tuple[int, int] = (320, 240),
                seed: int = 0, codec: str = "libx264") -> Path:
    """A short clip of shapes moving across a synthetic scene."""
    import av

    scene = np.asarray(synthetic_scene(seed, (size[0] * 2, size[1])))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            offset = int(i * size[0] / max(frames, 1))
            rgb = np.ascontiguousarray(scene[:, offset : offset + size[0]])
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_samples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photo = astronaut()
    out: list[Path] = []

    def save(img: Image.Image, name: str, **kw: object) -> None:
        path = folder / name
        img.save(path, **kw)
        out.append(path)

    save(photo, "astronaut.png")
    save(photo, "astronaut-q40.jpg", quality=40)
    save(photo.resize((256, 256)), "astronaut-small.jpg", quality=90)
    save(ImageOps.mirror(photo), "astronaut-mirrored.jpg", quality=90)
    save(photo.rotate(90, expand=True), "astronaut-rotated.webp", quality=90)
    save(ImageEnhance.Brightness(photo).enhance(1.3), "astronaut-brighter.jpg", quality=90)
    save(photo.crop((40, 40, 472, 472)), "astronaut-cropped.bmp")
    save(photo.convert("L"), "astronaut-grey.tiff")
    for seed in range(3):
        save(synthetic_scene(seed), f"shapes-{seed}.png")
    frames = [synthetic_scene(10 + i, (160, 120)) for i in range(6)]
    frames[0].save(folder / "shapes-animated.gif", save_all=True, append_images=frames[1:],
                   duration=200, loop=0)
    out.append(folder / "shapes-animated.gif")
    out.append(write_video(folder / "shapes-clip.mp4"))
    (folder / "notes.txt").write_text("not media: the scan reports it and goes on\n")
    out.append(folder / "notes.txt")
    return out
