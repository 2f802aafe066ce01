"""Export a trained checkpoint to ONNX (input: float32 RGB 0-255, N x 3 x S x S; output: P(fake))."""

from __future__ import annotations

import json
from pathlib import Path

from consentry.detector.train import build_model


def export(checkpoint: Path, out: Path, size: int, meta: dict | None = None) -> Path:
    import torch

    model = build_model(dropout=0.0, pretrained=False)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu"))
    model.net.set_swish(memory_efficient=False)  # the custom autograd swish does not trace
    model.eval()
    dummy = torch.zeros(1, 3, size, size)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, dummy, str(out), input_names=["rgb"], output_names=["p_fake"],
                      dynamic_axes={"rgb": {0: "n"}, "p_fake": {0: "n"}}, opset_version=17, dynamo=False)
    if meta is not None:  # input size, threshold, aggregation: read by scoring.load_model
        out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return out
