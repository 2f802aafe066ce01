"""The decision half of the pipeline, in the main process where the indexes and the database
live: store a batch of analysed items, run the matchers, apply the policy, save each item's
JSON, all in one transaction."""

from __future__ import annotations

from consentry.match.base import Matcher
from consentry.policy.base import Policy
from consentry.store import scans as scan_store
from consentry.store.db import Database
from consentry.store.tables.verdicts import record_verdicts
from consentry.types import ItemReport, ItemStatus


def decide_batch(reports: list[ItemReport], db: Database, scan_id: int,
                 matchers: list[Matcher], policy: Policy) -> None:
    """Store, match and decide ``reports`` in one transaction (sets item and scan ids)."""
    with db.session() as session:
        scan_store.insert_items(session, scan_id, reports)
        for report in reports:
            report.scan_id = scan_id
            if report.status is ItemStatus.OK or report.results:
                for matcher in matchers:
                    if not matcher.inputs or any(i in report.results for i in matcher.inputs):
                        matcher.match(report, session)
            policy.decide(report)
        record_verdicts(session, reports)
        scan_store.finish_items(session, reports)
