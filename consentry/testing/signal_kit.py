"""Conformance checks every registered signal must pass (like python-threatexchange's
``SignalTypeAutoTest``): tests/test_signal_conformance.py runs them over the whole catalogue,
so a new signal is checked the moment it is registered.

Each check runs the signal the way a scan does (``pipeline.analysis.Analyser`` with the signals
it requires) on media this module makes with the project's own code: never committed files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from functools import cache
from pathlib import Path

import numpy as np

from consentry.errors import SignalError
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals import catalog
from consentry.signals.base import ItemContext, Signal, SignalExample
from consentry.types import Frame, ItemReport, JsonOutput, MediaInfo, MediaKind

DOCS = Path(__file__).resolve().parents[2] / "docs"


def make_media(example: SignalExample, folder: Path) -> Path:
    from consentry.testing.samples import astronaut, synthetic_scene, write_video

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / example.name
    if example.media == "image":
        synthetic_scene(7).save(path)
    elif example.media == "face":
        astronaut().save(path)
    elif example.media == "video":
        write_video(path, frames=45)
    else:
        raise ValueError(f"unknown example media {example.media!r}")
    return path


def run(cls: type[Signal], path: Path) -> ItemReport:
    """One item through the scan's own analysis, with the signals ``cls`` requires."""
    names = (*cls.requires, cls.name)
    settings = ScanSettings(signals=names)
    return Analyser(settings, catalog.resolve(names)).analyse(path)


def check_identity(cls: type[Signal]) -> None:
    assert catalog.signal_class(cls.name) is cls
    assert isinstance(cls.version, str) and cls.version.strip(), f"{cls.name}: no version"
    assert cls.description, f"{cls.name}: no description"
    assert dataclasses.is_dataclass(cls.Options) and cls.Options.__dataclass_params__.frozen
    for need in cls.requires:
        assert need in catalog.SIGNALS, f"{cls.name} requires an unknown signal {need!r}"


def check_examples(cls: type[Signal], folder: Path) -> None:
    """Every example is analysed without error, its output is a frozen dataclass (or plain
    JSON) whose JSON is serialisable and documented, and says what the example expects."""
    offered = {c.field for c in cls.conditions}
    emitted: set[str] = set()
    for example in cls.examples():
        report = run(cls, make_media(example, folder))
        assert report.status.value == "ok", (example.name, report.error)
        assert cls.name not in report.signal_errors, report.signal_errors
        result = report.results[cls.name]
        assert result.version == cls.version
        output = result.output
        typed = not isinstance(output, JsonOutput) and dataclasses.is_dataclass(output)
        assert typed and type(output).__dataclass_params__.frozen, \
            f"{cls.name}: its output must be a typed frozen dataclass"
        fields = result.fields
        assert json.loads(json.dumps(fields)) == fields, f"{cls.name}: JSON does not round-trip"
        for key in fields:
            assert key in documented_fields(), f"{cls.name} writes `{key}`, which docs/ do not document"
        emitted |= set(fields)
        if example.expect is not None:
            assert example.expect(fields), f"{cls.name} on {example.name}: unexpected {fields}"
    missing = offered - emitted
    assert not missing, f"{cls.name} offers conditions on fields it never wrote: {missing}"


def check_bad_input(cls: type[Signal]) -> None:
    """A degenerate picture (1x1, or flat black) gives a result or a SignalError, never
    another exception: the pipeline turns a SignalError into this item's signal_errors."""
    if MediaKind.IMAGE not in cls.kinds or cls.requires:
        return
    signal = cls()
    signal.setup(ScanSettings())
    for shape in ((1, 1, 3), (2, 64, 3), (64, 64, 3)):
        rgb = np.zeros(shape, np.uint8)
        info = MediaInfo(MediaKind.IMAGE, "png", "png", shape[1], shape[0])
        ctx = ItemContext(Path("bad.png"), info, ScanSettings())
        with contextlib.suppress(SignalError):
            signal.compute_image(Frame(0, 0.0, rgb), ctx)


@cache
def documented_fields() -> frozenset[str]:
    """Every `field` named in the first column of a table in docs/*.md (the item JSON is
    documented there)."""
    found: set[str] = set()
    for doc in DOCS.glob("*.md"):
        for cell in re.findall(r"^\|([^|\n]+)\|", doc.read_text(encoding="utf-8"), re.MULTILINE):
            found |= set(re.findall(r"`([a-z_]+)`", cell))
    return frozenset(found)
