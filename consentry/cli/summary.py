"""What a person sees: a line per problem or flagged item and a summary table on stdout, and a
progress bar (total, rate, time left) on stderr that is drawn only on a terminal.

``ScanConsole`` is the terminal's sink (consentry.actions.sinks.Sink): the pipeline calls it
like any other.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from consentry.names import display_path, terminal_text
from consentry.types import ItemReport, ItemStatus, ScanSummary


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f}/s" if task.speed else "")


class ScanConsole:
    def __init__(self, report_path: Path | None = None) -> None:
        self.report_path = report_path
        # stdout: what was found. Not hard-wrapped, so piped output keeps one item per line.
        self.out = Console(soft_wrap=True, highlight=False)
        progress_console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), RateColumn(), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(),
            console=progress_console, transient=True,
            disable=not progress_console.is_terminal,  # no bar in logs or pipes
            redirect_stdout=False, redirect_stderr=False)
        self.task = self.progress.add_task("scanning", total=None)
        self.kinds: dict[str, int] = {}

    def start(self, scan_id: int, total: int | None) -> None:
        self.progress.update(self.task, total=total, description=f"scan {scan_id}")
        self.progress.start()

    def item(self, report: ItemReport) -> None:
        self.progress.advance(self.task)
        kind = report.kind.value if report.kind else "unknown"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if report.status is ItemStatus.ERROR:
            where, why = display_path(report.path), terminal_text(report.error or "")
            self._print(f"[red]error[/red] {escape(where)}: {escape(why)}")
        elif report.flagged and report.verdict is not None:
            verdict = report.verdict
            action = verdict.action + (f" ({verdict.priority} priority)" if verdict.priority else "")
            reasons = "; ".join(r.message for r in verdict.reasons)
            self._print(f"[yellow]{escape(action)}[/yellow] {escape(display_path(report.path))}"
                        + (f": {escape(reasons)}" if reasons else ""))

    def _print(self, markup: str) -> None:
        if self.progress.live.is_started and sys.stdout.isatty():
            self.progress.console.print(markup, soft_wrap=True)  # above the bar (same terminal)
        else:
            self.out.print(markup)

    def flush(self) -> None:
        sys.stdout.flush()

    def finish(self, summary: ScanSummary) -> None:
        self.progress.stop()
        table = Table(title=f"scan {summary.scan_id}" + (" (interrupted)" if summary.interrupted else ""),
                      show_header=False)
        table.add_row("items", str(summary.n_items))
        for kind, count in sorted(self.kinds.items()):
            table.add_row(f"  {kind}", str(count))
        table.add_row("could not be read", str(summary.n_errors))
        table.add_row("flagged", str(summary.n_flagged))
        if summary.n_known:
            table.add_row("known (--skip-known)", str(summary.n_known))
        if self.report_path:
            table.add_row("report", str(self.report_path))
        self.out.print(table)
