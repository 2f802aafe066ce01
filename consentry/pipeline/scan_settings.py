"""What a scan under a policy runs with, decided in one place for every front (the CLI's scan
and backfill, the service's jobs, ``Pipeline.scan`` given paths). Light on imports: the CLI
calls it before its workers fork, when SQLAlchemy is not loaded yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from consentry.settings import ScanSettings
from consentry.signals import catalog

if TYPE_CHECKING:
    from consentry.policy.base import Policy
    from consentry.store.db import Database


def settings_under(policy: Policy, settings: ScanSettings, database: Callable[[], Database]
                   ) -> ScanSettings:
    """``settings`` as a scan under ``policy`` runs them, the same for every front: the
    policy's cascade (a gate that reads a signal this scan leaves out is refused here, before
    any work) and, where faces are found and someone is enrolled, face descriptors computed in
    the workers. ``database`` is called only when faces run (the CLI starts its workers first)."""
    classes = catalog.resolve(settings.signals)
    cascade = settings.cascade or getattr(getattr(policy, "spec", None), "cascade", None) or None
    if cascade:
        cascade.order([c.name for c in classes], {c.name: c.requires for c in classes})
    descriptors = settings.likeness_descriptors
    if not descriptors and any(c.name == "faces" for c in classes):
        from consentry.match.likeness.matcher import registry_in_use

        descriptors = registry_in_use(database())
    return replace(settings, cascade=cascade, likeness_descriptors=descriptors)
