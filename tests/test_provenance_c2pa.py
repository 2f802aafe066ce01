"""C2PA: files the tests sign themselves (valid, tampered after signing, unsigned)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("c2pa", reason="provenance extra not installed")

from consentry.signals.provenance.c2pa_read import TRUST_ANCHORS_ENV, make_context, read_c2pa
from tests.provenance_helpers import ThrowawaySigner, transplant_manifest


@pytest.fixture(scope="module")
def signer() -> ThrowawaySigner:
    return ThrowawaySigner.create("Newsroom Camera Signer")


def jpeg(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    from consentry.testing.samples import synthetic_scene

    out = io.BytesIO()
    synthetic_scene(seed, size).save(out, format="JPEG", quality=90)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_valid_signature_reports_signer_generator_and_ai_source(signer: ThrowawaySigner,
                                                                  tmp_path: Path) -> None:
    path = write(tmp_path, "signed.jpg", signer.sign_jpeg(jpeg()))
    result = read_c2pa(path, make_context())
    assert result["validation_state"] == "valid"  # intact, but the test CA is not trusted
    assert result["signer"]["common_name"] == "Newsroom Camera Signer"
    assert result["signer"]["issuer"] == "Consentry Test"
    assert result["claim_generator"] == "ExampleGen 2.1"
    assert result["ai_generated"] is True and result["failures"] == []


def test_trusted_when_the_operator_trusts_the_root(signer: ThrowawaySigner, tmp_path: Path) -> None:
    path = write(tmp_path, "signed.jpg", signer.sign_jpeg(jpeg()))
    assert read_c2pa(path, make_context(signer.ca_pem))["validation_state"] == "trusted"
    other = ThrowawaySigner.create()  # a different root does not make it trusted
    assert read_c2pa(path, make_context(other.ca_pem))["validation_state"] == "valid"


def test_pixels_changed_after_signing_are_invalid(signer: ThrowawaySigner, tmp_path: Path) -> None:
    signed = signer.sign_jpeg(jpeg(seed=1))
    tampered = write(tmp_path, "tampered.jpg", transplant_manifest(signed, jpeg(seed=2)))
    Image.open(tampered).load()  # still a perfectly readable picture
    result = read_c2pa(tampered, make_context())
    assert result["validation_state"] == "invalid"
    assert any("mismatch" in code for code in result["failures"]), result["failures"]


def test_unsigned_file_has_no_manifest(tmp_path: Path) -> None:
    assert read_c2pa(write(tmp_path, "plain.jpg", jpeg()), make_context()) == {
        "validation_state": "absent"}


@pytest.mark.parametrize(("source", "ai"), [("compositeWithTrainedAlgorithmicMedia", True),
                                             ("digitalCapture", False),
                                             ("algorithmicMedia", False)])
def test_ai_generated_only_for_the_iptc_ai_source_types(signer: ThrowawaySigner, tmp_path: Path,
                                                         source: str, ai: bool) -> None:
    path = write(tmp_path, "s.jpg", signer.sign_jpeg(jpeg(), source_type=source))
    result = read_c2pa(path, make_context())
    assert result["validation_state"] == "valid" and result["ai_generated"] is ai


def test_garbage_with_c2pa_magic_does_not_crash(tmp_path: Path) -> None:
    data = jpeg()
    broken = data[:2] + b"\xff\xeb\x00\x20JP\x00\x01" + os.urandom(24) + data[2:]
    result = read_c2pa(write(tmp_path, "b.jpg", broken), make_context())
    assert result["validation_state"] in ("absent", "invalid")


def test_scan_end_to_end_signed_ai_face_is_labelled(run_cli, signer: ThrowawaySigner,
                                                   tmp_path: Path) -> None:
    """The real faces + provenance signals and the default policy: C2PA AI-generated + face."""
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.astronaut()).save(out, format="JPEG", quality=92)
    media = tmp_path / "media"
    media.mkdir()
    write(media, "ai-face.jpg", signer.sign_jpeg(out.getvalue()))
    write(media, "ai-shapes.jpg", signer.sign_jpeg(jpeg()))
    anchors = write(tmp_path, "anchors.pem", signer.ca_pem.encode())
    result = run_cli("scan", str(media), "--signals", "faces,provenance", "--json",
                     env={**os.environ, TRUST_ANCHORS_ENV: str(anchors)})
    assert result.code == 0, result.stderr  # a label does not flag the item
    by_name = {Path(line["path"]).name: line for line in result.lines}
    face = by_name["ai-face.jpg"]
    assert face["provenance"]["c2pa"]["validation_state"] == "trusted"
    assert face["verdict"]["action"] == "label" and face["verdict"]["labels"] == ["ai-generated"]
    assert face["verdict"]["reasons"][0]["code"] == "ai-generated-face"
    assert by_name["ai-shapes.jpg"]["verdict"]["action"] == "allow"  # AI-generated, but no face


def test_video_gets_container_checks(run_cli, tmp_path: Path) -> None:
    from consentry.testing.samples import write_video

    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "clip.mp4", frames=30, fps=30, size=(320, 256))
    result = run_cli("scan", str(media), "--signals", "provenance", "--json")
    assert result.code == 0, result.stderr
    prov = result.lines[0]["provenance"]
    assert prov["c2pa"]["validation_state"] == "absent"
    assert prov["watermark"]["checked"] and prov["watermark"]["frame"] == 0
    assert not prov["watermark"]["detected"]
    assert prov["metadata"]["software"].get("encoder", "").startswith("Lavf")
    assert np.isfinite(prov["watermark"]["agreement"])
