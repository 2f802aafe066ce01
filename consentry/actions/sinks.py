"""Where a scan's results go besides the store: sinks the pipeline calls as items are decided.

The pipeline calls ``start`` once the scan has an id, ``item`` for each item once it is stored
(verdict included), ``flush`` after each stored batch (so output streams), and ``finish`` with
the summary. The CLI's terminal output, JSON Lines, the HTML report and (later) webhooks are
all sinks, so every front gets the same behaviour by passing the sinks it wants.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Protocol, TextIO

from consentry.actions.report import ReportItem, write_report
from consentry.types import ItemReport, ScanSummary


class Sink(Protocol):
    def start(self, scan_id: int, total: int | None) -> None: ...

    def item(self, report: ItemReport) -> None: ...

    def flush(self) -> None: ...

    def finish(self, summary: ScanSummary) -> None: ...


class JsonLinesSink:
    """One JSON object per item (docs/json-schema.md), as stored."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def start(self, scan_id: int, total: int | None) -> None:
        pass

    def item(self, report: ItemReport) -> None:
        self.out.write(json.dumps(report.as_json(), ensure_ascii=False, default=str) + "\n")

    def flush(self) -> None:
        self.out.flush()

    def finish(self, summary: ScanSummary) -> None:
        self.out.flush()


class ListSink:
    """Keeps every stored item's report (tests, and fronts that answer with the results)."""

    def __init__(self) -> None:
        self.reports: list[ItemReport] = []

    def start(self, scan_id: int, total: int | None) -> None:
        pass

    def item(self, report: ItemReport) -> None:
        self.reports.append(report)

    def flush(self) -> None:
        pass

    def finish(self, summary: ScanSummary) -> None:
        pass


class HtmlReportSink:
    """A self-contained HTML report of the scan, written when it finishes (an interrupted scan
    still gets a report of what was stored)."""

    def __init__(self, path: Path, *, blur: bool = True) -> None:
        self.path = path
        self.blur = blur
        self.items: list[ReportItem] = []
        self.scan_id = 0

    def start(self, scan_id: int, total: int | None) -> None:
        self.scan_id = scan_id

    def item(self, report: ItemReport) -> None:
        self.items.append(ReportItem.from_report(report))

    def flush(self) -> None:
        pass

    def finish(self, summary: ScanSummary) -> None:
        write_report(self.path, self.items, summary.scan_id, blur=self.blur)
