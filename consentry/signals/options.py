"""Each signal's own options, as frozen dataclasses: the CLI derives its flags from them
(``--`` + the field name with dashes, the help from the field's metadata) and the signal reads
its instance from the scan settings (``Signal.options(settings)``).

Kept apart from the signal modules so that building the CLI (``consentry scan --help``) never
imports a model or a heavy library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def option(default: Any, help: str, *, minimum: float | None = None) -> Any:
    """A field of an options dataclass: its default, its help text and, for numbers, a minimum."""
    return field(default=default, metadata={"help": help, "min": minimum})


@dataclass(frozen=True)
class NoOptions:
    """A signal with no options."""


@dataclass(frozen=True)
class HashOptions:
    video_fps: float = option(1.0, "Video frames hashed per second (vPDQ).", minimum=0.001)
    every_frame: bool = option(False, "Hash every video frame (vPDQ), whatever --video-fps says.")
    dihedral: bool = option(False, "Also print the 8 rotation/flip PDQ hashes.")

    @property
    def frames_per_second(self) -> float | None:
        """vPDQ's sampling rate; None = every frame."""
        return None if self.every_frame else self.video_fps


@dataclass(frozen=True)
class FacesOptions:
    faces_fps: float = option(2.0, "Video frames searched for faces per second.", minimum=0.001)
    min_face_size: float = option(64.0, "Faces narrower than this (pixels) are reported but not "
                                  "matched.", minimum=1.0)


@dataclass(frozen=True)
class SexualOptions:
    sexual_fps: float = option(1.0, "Video frames scored for sexual content per second.",
                               minimum=0.001)
