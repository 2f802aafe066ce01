"""The decision half of the pipeline, in the main process where the indexes and the database
live: store a batch of analysed items, run the matchers, apply the policy, save each item's
JSON, all in one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from consentry.match.base import Matcher
from consentry.policy.base import Policy
from consentry.store import scans as scan_store
from consentry.store.db import Database
from consentry.store.tables.verdicts import record_verdicts
from consentry.types import ItemReport, ItemStatus, MediaInfo, MediaKind


def _reuse_known(session: Session, reports: list[ItemReport]) -> None:
    """Items identical to one already analysed with the same signal versions repeat its
    stored result (findings, matches and verdict as they were then)."""
    known = [r for r in reports if r.known_item_id is not None]
    stored = scan_store.stored_results(session, [r.known_item_id for r in known if r.known_item_id])
    for report in known:
        result = stored.get(report.known_item_id or -1)
        if result is None:  # deleted since the scan began: nothing to repeat
            report.fail("internal_error", "the earlier result of this file is gone; scan it again")
            report.known_item_id = None
            continue
        report.reused = result
        report.kind = MediaKind(result["kind"]) if result.get("kind") else None
        if report.kind and result.get("media"):
            report.info = MediaInfo(report.kind, **result["media"])
        report.flagged = bool(result.get("flagged"))


def decide_batch(reports: list[ItemReport], db: Database, scan_id: int,
                 matchers: list[Matcher], policy: Policy,
                 also: Callable[[Session], None] | None = None) -> None:
    """Store, match and decide ``reports`` in one transaction (sets item and scan ids);
    ``also`` runs last in that transaction (a backfill marks its entries done there)."""
    with db.session() as session:
        _reuse_known(session, reports)
        scan_store.insert_items(session, scan_id, reports)
        for report in reports:
            report.scan_id = scan_id
            if report.reused is not None:
                continue  # --skip-known: the earlier item's findings and verdict stand
            if report.status is ItemStatus.OK or report.results:
                for matcher in matchers:
                    if not matcher.inputs or any(i in report.results for i in matcher.inputs):
                        matcher.match(report, session)
            policy.decide(report)
        record_verdicts(session, reports)
        scan_store.finish_items(session, reports)
        if also is not None:
            also(session)
