"""Our dwtDct decoder against images the tests watermark with the real ``invisible-watermark``
package (installed with --no-deps by ``make install``; skipped cleanly without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consentry.signals.provenance.watermark import (
    KNOWN_PAYLOADS,
    block_bits,
    decode,
    detect,
    haar_approximation,
)
from tests.conftest import THREATEXCHANGE


def _import_imwatermark():  # type: ignore[no-untyped-def]
    """The real package. Its ``__init__`` imports the RivaGAN scheme, which needs torch (a
    multi-GB install we keep out of the default set-up); dwtDct does not use it, so when torch
    is absent an inert placeholder stands in for that one unused module."""
    import importlib.util
    import sys
    import types

    if importlib.util.find_spec("imwatermark") is None:
        pytest.skip("invisible-watermark not installed (make install adds it with --no-deps)")
    if importlib.util.find_spec("torch") is None and "imwatermark.rivaGan" not in sys.modules:
        placeholder = types.ModuleType("imwatermark.rivaGan")

        class RivaWatermark:  # never constructed by the dwtDct path
            def __init__(self, *args: object, **kwargs: object) -> None:
                raise RuntimeError("RivaGAN needs torch, which is not installed")

        placeholder.RivaWatermark = RivaWatermark  # type: ignore[attr-defined]
        sys.modules["imwatermark.rivaGan"] = placeholder
    import imwatermark as package

    return package


imwatermark = _import_imwatermark()


def embed(rgb: np.ndarray, payload: np.ndarray, *, as_diffusers: bool = False) -> np.ndarray:
    """Watermark like the SD scripts (proper BGR) or like diffusers (RGB handed over as BGR)."""
    encoder = imwatermark.WatermarkEncoder()
    encoder.set_watermark("bits", [int(b) for b in payload])
    if as_diffusers:
        return encoder.encode(np.ascontiguousarray(rgb), "dwtDct")
    return encoder.encode(np.ascontiguousarray(rgb[:, :, ::-1]), "dwtDct")[:, :, ::-1]


def photos() -> dict[str, np.ndarray]:
    from skimage import data

    found = {n: getattr(data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket")}
    bridge = THREATEXCHANGE / "pdq" / "data" / "bridge-mods"
    for path in sorted(bridge.glob("*.jpg"))[:6] if bridge.exists() else []:
        found[path.name] = np.asarray(Image.open(path).convert("RGB"))
    return found


def roundtrip_png(rgb: np.ndarray, tmp_path: Path) -> np.ndarray:
    path = tmp_path / "wm.png"
    Image.fromarray(rgb).save(path)
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("name", sorted(KNOWN_PAYLOADS))
@pytest.mark.parametrize("as_diffusers", [False, True])
def test_detects_and_decodes_each_known_payload(name: str, as_diffusers: bool, tmp_path: Path) -> None:
    from skimage import data

    marked = roundtrip_png(embed(data.astronaut(), KNOWN_PAYLOADS[name], as_diffusers=as_diffusers),
                           tmp_path)
    result = detect(marked)
    assert result["detected"] and result["match"] == name
    assert result["agreement"] == 1.0
    assert result["channel_order"] == ("rgb-as-bgr" if as_diffusers else "bgr")


def test_bits_equal_the_reference_decoder_on_a_marked_photo(tmp_path: Path) -> None:
    from skimage import data

    payload = KNOWN_PAYLOADS["stable-diffusion-xl"]
    rgb = roundtrip_png(embed(data.coffee(), payload), tmp_path)
    reference = imwatermark.WatermarkDecoder("bits", len(payload))
    expected = np.array(reference.decode(np.ascontiguousarray(rgb[:, :, ::-1]), "dwtDct"), np.uint8)
    ours, _ = decode(block_bits(rgb, bgr_order=True), len(payload))
    assert np.array_equal(ours, expected)
    # and on an unmarked photo, where the bits are noise, we still agree bit for bit
    clean = data.chelsea()
    clean = np.ascontiguousarray(np.pad(clean, ((0, 100), (0, 0), (0, 0)), mode="reflect"))
    expected = np.array(reference.decode(np.ascontiguousarray(clean[:, :, ::-1]), "dwtDct"), np.uint8)
    assert np.array_equal(decode(block_bits(clean, bgr_order=True), len(payload))[0], expected)


def test_haar_shortcut_equals_pywavelets() -> None:
    pywt = pytest.importorskip("pywt")
    channel = np.random.default_rng(0).integers(0, 256, (64, 96)).astype(np.uint8)
    assert np.array_equal(haar_approximation(channel), pywt.dwt2(channel.astype(float), "haar")[0])


def test_unmarked_photographs_are_not_detected() -> None:
    for name, rgb in photos().items():
        if rgb.ndim == 2:
            rgb = np.stack([rgb] * 3, axis=-1)
        if rgb.shape[0] * rgb.shape[1] < 256 * 256:
            continue
        result = detect(rgb)
        assert not result["detected"], (name, result)
        assert result["agreement"] < 0.8, (name, result)


def test_a_different_payload_is_not_mistaken_for_a_known_one(tmp_path: Path) -> None:
    from skimage import data

    other = np.random.default_rng(7).integers(0, 2, 48).astype(np.uint8)
    result = detect(roundtrip_png(embed(data.astronaut(), other), tmp_path))
    assert not result["detected"]


def test_small_images_are_not_checked() -> None:
    result = detect(np.zeros((200, 200, 3), np.uint8))
    assert result == {"scheme": "dwtDct", "detected": False, "checked": False,
                      "reason": "image smaller than 256x256, the scheme's minimum"}


def test_scan_reports_the_watermark(run_cli, tmp_path: Path) -> None:
    from skimage import data

    media = tmp_path / "media"
    media.mkdir()
    Image.fromarray(embed(data.astronaut(), KNOWN_PAYLOADS["stable-diffusion-v1"])).save(
        media / "sd.png")
    result = run_cli("scan", str(media), "--signals", "provenance", "--json", "--report",
                     str(tmp_path / "r.html"))
    assert result.code == 0, result.stderr
    mark = result.lines[0]["provenance"]["watermark"]
    assert mark["detected"] and mark["match"] == "stable-diffusion-v1"
    assert "stable-diffusion-v1 watermark (100% of bits)" in (tmp_path / "r.html").read_text()


def test_big_jpeg_is_decoded_at_full_size_for_the_watermark(run_cli, tmp_path: Path) -> None:
    """Hashing alone would decode a big JPEG at half scale; the watermark needs every pixel."""
    from skimage import data

    big = np.asarray(Image.fromarray(data.astronaut()).resize((1200, 1200)))
    path = tmp_path / "sd-big.jpg"
    Image.fromarray(embed(big, KNOWN_PAYLOADS["stable-diffusion-v1"])).save(path, quality=100)
    line = run_cli("scan", "--signals", "hash,provenance", "--json", str(path)).lines[0]
    assert line["provenance"]["watermark"]["detected"], line["provenance"]["watermark"]
    assert line["media"]["width"] == 1200
