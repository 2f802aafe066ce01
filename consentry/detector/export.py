"""Export a trained checkpoint to ONNX (input: float32 RGB 0-255, N x 3 x S x S; output: P(fake))."""

from __future__ import annotations

import json
from pathlib import Path

from consentry.detector.train import build_model


def export(checkpoint: Path, out: Path, size: int, meta: dict | None = None) -> Path:
    import torch

    model = build_model(dropout=0.0, pretrained=False)
    state = torch.load(checkpoint, map_location="cpu")
    # first-generation checkpoints predate the calibration buffers: they keep 1, 0 (none)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"logit_scale", "logit_bias"}:
        raise RuntimeError(f"{checkpoint}: not a detector checkpoint ({missing}, {unexpected})")
    # NB: never call net.set_swish() here: Lite models use ReLU6 and set_swish would replace it
    model.eval()
    _check_no_swish(model)
    dummy = torch.zeros(1, 3, size, size)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, dummy, str(out), input_names=["rgb"], output_names=["p_fake"],
                      dynamic_axes={"rgb": {0: "n"}, "p_fake": {0: "n"}}, opset_version=17, dynamo=False)
    if meta is not None:  # input size, threshold, aggregation: read by scoring.load_model
        out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def _check_no_swish(model) -> None:
    names = {type(m).__name__ for m in model.modules()}
    if names & {"Swish", "MemoryEfficientSwish"}:
        raise RuntimeError("EfficientNet-Lite must use ReLU6; found a swish activation")
