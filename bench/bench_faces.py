"""Faces benchmark: a 1280x720 photo with several faces, a 60 s 720p video at 2 frames/s,
and detector recall/speed on shared face data (dlib HOG vs OpenCV's Haar cascade).

Media is built in a temporary folder from ../shared (never committed):
- photo: 5 DFDC REAL crops (200 px faces) on a grey background, 1280x720;
- video: the FF++ c40 720p YouTube originals concatenated, scaled to 1280x720 at 30 fps, cut
  at 60 s, encoded with libx264.

    .venv/bin/python -m bench.bench_faces [--skip-video] [--skip-recall]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.faces.embed import embed_chips
from consentry.signals.faces.finder import FaceFinder, downscale
from consentry.signals.faces.signal import FacesSignal
from consentry.signals.options import FacesOptions
from consentry.testing.faces import group_photo, real_crops, save_png
from consentry.types import Frame

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared/data/deepfake-dev"
FFPP = DEV / "mudouble__FaceForensics-Detection_Website/media/in_out_videos/original"
CLIP_SOURCES = ["253", "183", "481", "585", "599", "672", "878"]  # the 1280x720 ones


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_photo(tmp: Path, repeats: int = 15) -> None:
    photo = group_photo(real_crops(DEV, 5))
    save_png(photo, tmp / "group.png")
    signal = FacesSignal()
    signal.setup(ScanSettings())
    from consentry.signals.base import ItemContext
    from consentry.types import MediaInfo, MediaKind

    info = MediaInfo(MediaKind.IMAGE, "png", "png", photo.shape[1], photo.shape[0])
    item = ItemContext(tmp / "group.png", info, ScanSettings())
    frame = Frame(0, 0.0, photo)
    signal.compute_image(frame, item)  # warm up
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = signal.compute_image(frame, item)
        times.append(time.perf_counter() - started)
    assert result is not None
    chips = [t.detections[0].chip for t in result.payload.tracks if t.detections[0].chip is not None]
    embed_chips(chips[:1])
    started = time.perf_counter()
    embed_chips(chips)
    embed_ms = (time.perf_counter() - started) * 1000
    print(f"photo 1280x720, {len(result.fields['faces'])} faces found of 5: faces signal median "
          f"{statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms "
          f"({repeats} runs; detection, 5 landmarks, aligned crops, grading)")
    print(f"  descriptors for those {len(chips)} faces (only when someone is enrolled): "
          f"{embed_ms:.0f} ms ({embed_ms / max(1, len(chips)):.0f} ms per face)")


def make_clip(out: Path, seconds: float = 60.0, fps: int = 30) -> Path:
    frames_needed = int(seconds * fps)
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.codec_context.time_base = Fraction(1, fps)
        written = 0
        while written < frames_needed:
            for name in CLIP_SOURCES:
                with av.open(str(FFPP / f"youtube/c40/videos/{name}.mp4")) as src:
                    for frame in src.decode(video=0):
                        if written >= frames_needed:
                            break
                        scaled = frame.reformat(width=1280, height=720, format="yuv420p")
                        scaled.pts = written
                        scaled.time_base = Fraction(1, fps)
                        for packet in stream.encode(scaled):
                            dst.mux(packet)
                        written += 1
                if written >= frames_needed:
                    break
        for packet in stream.encode():
            dst.mux(packet)
    return out


def bench_video(tmp: Path) -> None:
    started = time.perf_counter()
    clip = make_clip(tmp / "clip60.mp4")
    print(f"made the 60 s 1280x720 clip in {time.perf_counter() - started:.0f} s "
          f"({clip.stat().st_size / 1e6:.1f} MB)")
    analyser = Analyser(ScanSettings(options=(FacesOptions(faces_fps=2.0),)), [FacesSignal])
    cpu0, started = cpu_seconds(), time.perf_counter()
    report = analyser.analyse(clip)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    faces = report.as_json()["faces"]
    print(f"video 60 s 1280x720 30 fps, faces at 2 frames/s: {wall:.1f} s wall, {cpu:.1f} s CPU; "
          f"{len(faces)} tracks, {sum(f['n_frames'] for f in faces)} faces in 120 sampled frames")
    decode_only = Analyser(ScanSettings(), [])
    started = time.perf_counter()
    decode_only.analyse(clip)
    print(f"  of which decoding every frame (no signal): {time.perf_counter() - started:.1f} s")


def _padded(path: Path) -> np.ndarray:
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"))
    return np.pad(rgb, ((48, 48), (48, 48), (0, 0)), mode="edge")


def _ffpp_frames(per_video: int = 6) -> list[np.ndarray]:
    frames = []
    for video in sorted((FFPP / "youtube/c40/videos").glob("*.mp4")) + sorted(
            (FFPP / "actors/c40/videos").glob("*.mp4")):
        with av.open(str(video)) as src:
            total = src.streams.video[0].frames or 300
            wanted = set(np.linspace(0, total - 1, per_video + 2, dtype=int)[1:-1].tolist())
            for i, frame in enumerate(src.decode(video=0)):
                if i in wanted:
                    frames.append(downscale(frame.to_ndarray(format="rgb24"), 1280))
                if i > max(wanted):
                    break
    return frames


def bench_recall() -> None:
    """Share of pictures (each shows one person) in which each detector finds a face."""
    crops = [_padded(p) for p in real_crops(DEV.parent / "dfdc-faces", 300)]
    frames = _ffpp_frames()
    finder = FaceFinder()
    hog = finder._detector
    haar = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def run_hog(up: int):  # type: ignore[no-untyped-def]
        return lambda rgb: len(hog(np.ascontiguousarray(rgb), up))

    def run_haar(rgb: np.ndarray) -> int:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return len(haar.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40)))

    detectors = {"dlib HOG": run_hog(0), "dlib HOG upsample 1": run_hog(1),
                 "OpenCV Haar frontal": run_haar}
    print(f"detector recall: {len(crops)} DFDC REAL crops (padded to 320x320), "
          f"{len(frames)} FF++ c40 frames (20 REAL videos, scaled to <=1280 px)")
    for name, run in detectors.items():
        for label, pictures in (("DFDC crops", crops), ("FF++ frames", frames)):
            started = time.perf_counter()
            counts = [run(p) for p in pictures]
            ms = (time.perf_counter() - started) * 1000 / len(pictures)
            found = sum(c >= 1 for c in counts) / len(pictures)
            extra = sum(c > 1 for c in counts) / len(pictures)
            print(f"  {name:22s} {label:11s} recall {found:6.1%}  >1 face {extra:5.1%}  {ms:6.1f} ms/picture")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--skip-recall", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="consentry-bench-faces-") as folder:
        tmp = Path(folder)
        bench_photo(tmp)
        if not args.skip_video:
            bench_video(tmp)
    if not args.skip_recall:
        bench_recall()


if __name__ == "__main__":
    main()
