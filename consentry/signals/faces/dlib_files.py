"""Locate and load the dlib models that ship in the ``face-recognition-models`` package.

The package's ``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so the
files are located by path through the import system without importing the package. We use
the HOG detector built into dlib, the 5-point landmark model and the ResNet descriptor; the
68-point model is never loaded (its training data is licensed for non-commercial use only).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "face_recognition_models"
SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
INSTALL_HINT = "install the faces extra: pip install 'consentry[faces]'"


def models_dir() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def unavailable_reason() -> str | None:
    """None when dlib and the model files are here, else what is missing and how to fix it."""
    if importlib.util.find_spec("dlib") is None:
        return f"dlib is not installed ({INSTALL_HINT})"
    folder = models_dir()
    if folder is None:
        return f"face-recognition-models is not installed ({INSTALL_HINT})"
    missing = [name for name in (SHAPE_5, DESCRIPTOR) if not (folder / name).is_file()]
    if missing:
        return f"model files missing from {folder}: {', '.join(missing)}"
    return None


@cache
def detector() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def shape_predictor() -> Any:
    import dlib

    return dlib.shape_predictor(str(_model_path(SHAPE_5)))


@cache
def descriptor_model() -> Any:
    import dlib

    return dlib.face_recognition_model_v1(str(_model_path(DESCRIPTOR)))


def _model_path(name: str) -> Path:
    reason = unavailable_reason()
    if reason:
        from consentry.errors import ConfigError

        raise ConfigError(f"faces: {reason}")
    folder = models_dir()
    assert folder is not None
    return folder / name
