"""Every registered signal through the same conformance kit (consentry.testing.signal_kit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry.signals import catalog
from consentry.testing import signal_kit

AVAILABLE = [name for name in catalog.SIGNALS if catalog.unavailable_reason(name) is None]


@pytest.mark.parametrize("name", AVAILABLE)
def test_identity(name: str) -> None:
    signal_kit.check_identity(catalog.signal_class(name))


@pytest.mark.parametrize("name", AVAILABLE)
def test_examples(name: str, tmp_path: Path) -> None:
    signal_kit.check_examples(catalog.signal_class(name), tmp_path)


@pytest.mark.parametrize("name", AVAILABLE)
def test_bad_input_gives_a_result_or_a_signal_error(name: str) -> None:
    signal_kit.check_bad_input(catalog.signal_class(name))


def test_every_signal_is_installed_here() -> None:
    """The default set-up installs every extra: a signal that cannot run here is a broken
    install, not a reason to skip its conformance tests silently."""
    assert list(catalog.SIGNALS) == AVAILABLE, {n: catalog.unavailable_reason(n) for n in catalog.SIGNALS}
