"""What a person sees on a terminal: a progress bar, a line per problem, a summary table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from consentry.names import display_path, terminal_text
from consentry.pipeline.scan import ScanSummary
from consentry.types import ItemReport, ItemStatus


class ScanConsole:
    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed} items"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.task = self.progress.add_task("scanning", total=None)
        self.kinds: dict[str, int] = {}

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def item(self, report: ItemReport) -> None:
        self.progress.advance(self.task)
        kind = report.kind.value if report.kind else "unknown"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if report.status is ItemStatus.ERROR:
            where, why = display_path(report.path), terminal_text(report.error or "")
            self.progress.console.print(
                f"[red]error[/red] {escape(where)}: {escape(why)}",
                highlight=False)
        elif report.flagged:
            verdict = report.verdict.as_json() if report.verdict else {}
            action = verdict.get("action", "flagged")
            if verdict.get("priority"):
                action += f" ({verdict['priority']} priority)"
            reasons = "; ".join(r["message"] for r in verdict.get("reasons") or [])
            self.progress.console.print(
                f"[yellow]{escape(action)}[/yellow] {escape(display_path(report.path))}"
                + (f": {escape(reasons)}" if reasons else ""), highlight=False)

    def summary(self, summary: ScanSummary, report_path: Path | None) -> None:
        table = Table(title=f"scan {summary.scan_id}", show_header=False)
        table.add_row("items", str(summary.n_items))
        for kind, count in sorted(self.kinds.items()):
            table.add_row(f"  {kind}", str(count))
        table.add_row("could not be read", str(summary.n_errors))
        table.add_row("flagged", str(summary.n_flagged))
        if report_path:
            table.add_row("report", str(report_path))
        self.console.print(table)
