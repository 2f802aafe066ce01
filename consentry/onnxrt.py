"""onnxruntime, loaded one way for inference: with its telemetry turned off.

``ORT_DISABLE_TELEMETRY`` (set in ``consentry/__init__.py``, before any import) stops what
importing it writes under ~/.cache; ``disable_telemetry_events`` stops the events a session
would log. Consentry runs offline and says so (docs/security.md): it turns both off itself
rather than rely on how a wheel was built.
"""

from __future__ import annotations

import os
from types import ModuleType


def load_onnxruntime() -> ModuleType:
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    return onnxruntime
