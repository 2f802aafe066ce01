"""``consentry scans``: list past scans and print their stored items."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from consentry.cli.common import common_options, emit, fail, handle_errors, state
from consentry.names import terminal_text
from consentry.store import scans as scan_store


@click.group("scans")
def command() -> None:
    """Past scans and their results."""


@command.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the most recent scans to list.")
@common_options
@handle_errors
def list_cmd(limit: int) -> None:
    """The most recent scans."""
    rows = [scan.as_json() for scan in scan_store.list_scans(state().database(), limit)]
    if state().json:
        for row in rows:
            emit(row)
        return
    table = Table("id", "started", "status", "items", "errors", "flagged")
    for row in rows:
        table.add_row(str(row["scan_id"]), str(row["started_at"])[:19], row["status"],
                      str(row["n_items"]), str(row["n_errors"]), str(row["n_flagged"]))
    Console().print(table)


@command.command("show")
@click.argument("scan_id", type=int)
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the scan's HTML report here, from what was stored (no previews: "
              "media is never stored).")
@common_options
@handle_errors
def show_cmd(scan_id: int, report_path: Path | None) -> None:
    """Every item of one scan: its verdict, status, kind and path, then the reasons for its
    verdict (JSON Lines with --json: each item's stored result)."""
    db = state().database()
    if scan_store.get_scan(db, scan_id) is None:
        fail(f"no scan with id {scan_id}")
    results = [item.result for item in scan_store.scan_items(db, scan_id)]
    if report_path is not None:
        from consentry.actions.report import ReportItem, write_report

        write_report(report_path, [ReportItem(r) for r in results], scan_id)
    for result in results:
        if state().json:
            emit(result)
            continue
        verdict = result.get("verdict") or {}
        action = verdict.get("action") or "-"
        if verdict.get("priority"):
            action += f" ({verdict['priority']})"
        sys.stdout.write(f"{action}\t{result.get('status')}\t{result.get('kind')}\t"
                         f"{terminal_text(str(result.get('path')))}\n")
        for reason in verdict.get("reasons") or []:
            sys.stdout.write(f"    {reason.get('code')}: {terminal_text(str(reason.get('message')))}\n")
        if result.get("error"):
            sys.stdout.write(f"    error: {terminal_text(str(result['error']))}\n")

