"""Consentry: detect and stop non-consensual intimate imagery and sexual deepfakes."""

import os as _os

# onnxruntime's wheels (Linux ones too, 1.32) collect telemetry: importing it writes a device
# id and an event store under ~/.cache/Microsoft unless this is set. Set here, before any
# Consentry code can import it, and inherited by worker processes (docs/security.md).
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
