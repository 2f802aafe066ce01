"""Metadata hints from EXIF, PNG text chunks and XMP (files written by the tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from consentry.signals.provenance.metadata import image_fields, summarise

PROMPT = "a private prompt that must never be stored"


def picture() -> Image.Image:
    return Image.fromarray(np.full((64, 64, 3), 120, np.uint8))


def hints(path: Path) -> dict:
    return summarise(*image_fields(path))


def test_automatic1111_parameters_chunk_is_named_but_the_prompt_is_not_kept(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{PROMPT}\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    picture().save(tmp_path / "a.png", pnginfo=info)
    result = hints(tmp_path / "a.png")
    assert result["ai_generated"] and result["generators"] == ["automatic1111"]
    assert result["generator_chunks"] == ["parameters"]
    assert PROMPT not in json.dumps(result)


def test_comfyui_chunks(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps({"3": {"inputs": {"text": PROMPT}}}))
    info.add_text("workflow", "{}")
    picture().save(tmp_path / "c.png", pnginfo=info)
    result = hints(tmp_path / "c.png")
    assert result["generators"] == ["comfyui"] and PROMPT not in json.dumps(result)


def test_exif_software_names_a_generator(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0131] = "Adobe Firefly Image 3"
    picture().save(tmp_path / "f.jpg", exif=exif)
    result = hints(tmp_path / "f.jpg")
    assert result["generators"] == ["adobe-firefly"] and result["ai_generated"]
    assert result["software"] == {"software": "Adobe Firefly Image 3"}


def test_ordinary_editing_software_is_recorded_not_flagged(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0131] = "GIMP 2.10.34"
    exif[0x010F] = "Canon"
    picture().save(tmp_path / "g.jpg", exif=exif)
    result = hints(tmp_path / "g.jpg")
    assert not result["ai_generated"] and result["generators"] == []
    assert result["software"] == {"software": "GIMP 2.10.34", "make": "Canon"}


def test_xmp_digital_source_type(tmp_path: Path) -> None:
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
           b'22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/'
           b'Iptc4xmpExt/2008-02-29/" Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/'
           b'digitalsourcetype/trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>')
    picture().save(tmp_path / "x.jpg", xmp=xmp)
    result = hints(tmp_path / "x.jpg")
    assert result["ai_generated"] and result["generators"] == []
    assert result["digital_source_type"].endswith("/trainedAlgorithmicMedia")


def test_no_metadata(tmp_path: Path) -> None:
    picture().save(tmp_path / "n.png")
    result = hints(tmp_path / "n.png")
    assert result["fields"] == [] and not result["ai_generated"]
