"""Face-manipulation detector: self-blended-images training (extra ``train``) and ONNX inference.

Modules: ``geometry`` (5-point landmarks -> face crop and outline), ``sbi`` (self-blending),
``data`` (real-face lists and held-out splits), ``train``/``export`` (torch, training only),
``scoring`` (onnxruntime inference and track aggregation), ``scan_scores`` (labelled files
scored through the scan's own analysis), ``eval`` (metrics with intervals, the operating point),
``build`` (``train-detector``: prepare, train, export, calibrate).
"""

from pathlib import Path

# ../shared beside a source checkout: the project's data, read in place, never copied
DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared"
