"""``consentry bank``: hash banks (create, list, show, enable/disable, delete, add, withdraw,
import, export, import-submission). Every change is audited; see docs/banks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from consentry.cli.common import EXIT_PARTIAL, common_options, emit, fail, handle_errors, state
from consentry.match.banks import formats, service
from consentry.match.banks import index as bank_index
from consentry.match.banks import submission as subm
from consentry.match.banks.records import BankRecord, RecordError, make_record
from consentry.pipeline.runner import default_workers
from consentry.store.db import current_actor
from consentry.store.tables.core import Item


@click.group("bank")
def command() -> None:
    """Hash banks: known NCII, deepfakes, other harmful media, and allow lists."""


def _out(obj: dict[str, Any], text: str) -> None:
    if state().json:
        emit(obj)
    else:
        click.echo(text)


@command.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(service.KINDS), required=True,
              help="allow = a negative bank: an item matching it is never flagged by other banks.")
@click.option("--threshold", type=click.IntRange(0, 128), default=31, show_default=True,
              help="PDQ Hamming distance for a match.")
@click.option("--quality-min", type=click.IntRange(0, 100), default=50, show_default=True,
              help="Ignore item hashes (and video frames) below this PDQ quality.")
@click.option("--enabled-ratio", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Enforce matches on this share of items only (gradual roll-out).")
@click.option("--dihedral", is_flag=True, help="Also match rotated and flipped copies (8 PDQ hashes).")
@click.option("--video-query-pct", type=click.FloatRange(0, 100), default=80.0, show_default=True,
              help="vPDQ: share of the scanned video's unique frames that must match.")
@click.option("--video-target-pct", type=click.FloatRange(0, 100), default=0.0, show_default=True,
              help="vPDQ: share of the banked video's unique frames that must match.")
@click.option("--description")
@common_options
@handle_errors
def create_cmd(name: str, kind: str, threshold: int, quality_min: int, enabled_ratio: float,
               dihedral: bool, video_query_pct: float, video_target_pct: float,
               description: str | None) -> None:
    """Create a bank."""
    with state().database().session() as session:
        bank = service.create_bank(session, name, kind, current_actor(), threshold=threshold,
                                   quality_min=quality_min, enabled_ratio=enabled_ratio,
                                   dihedral=dihedral, video_query_pct=video_query_pct,
                                   video_target_pct=video_target_pct, description=description)
        info = service.bank_json(session, bank)
    _out({"status": "ok", **info}, f"created bank {name} ({kind}, threshold {threshold})")


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every bank with its settings and entry counts."""
    with state().database().session() as session:
        rows = [service.bank_json(session, b) for b in service.list_banks(session)]
    if state().json:
        for row in rows:
            emit(row)
        return
    table = Table("bank", "kind", "enabled", "threshold", "quality", "ratio", "dihedral", "entries")
    for r in rows:
        entries = ", ".join(f"{k} {v}" for k, v in sorted(r["entries"].items())) or "-"
        table.add_row(r["bank"], r["kind"], "yes" if r["enabled"] else "no", str(r["threshold"]),
                      str(r["quality_min"]), f"{r['enabled_ratio']:g}", "yes" if r["dihedral"] else "no",
                      entries)
    Console().print(table)


@command.command("show")
@click.argument("name")
@click.option("--entries", "n_entries", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many active entries to list.")
@common_options
@handle_errors
def show_cmd(name: str, n_entries: int) -> None:
    """One bank's settings, counts and first entries."""
    with state().database().session() as session:
        bank = service.get_bank(session, name)
        info = service.bank_json(session, bank)
        entries = []
        for entry in service.active_entries(session, bank):
            if len(entries) >= n_entries:
                break
            entries.append({"entry_id": entry.id, "signal": entry.signal, "hash": entry.value_key,
                            "case_id": entry.case_id, "note": entry.note, "added_at": entry.added_at})
    if state().json:
        emit({**info, "first_entries": entries})
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")
    for e in entries:
        click.echo(f"  {e['entry_id']}\t{e['signal']}\t{e['hash']}\t{e['case_id'] or ''}")


def _set_enabled(name: str, enabled: bool) -> None:
    with state().database().session() as session:
        bank = service.get_bank(session, name)
        service.update_bank(session, bank, current_actor(), enabled=enabled)
    word = "enabled" if enabled else "disabled"
    _out({"status": "ok", "bank": name, "enabled": enabled}, f"bank {name} {word}")


@command.command("disable")
@click.argument("name")
@common_options
@handle_errors
def disable_cmd(name: str) -> None:
    """Stop matching against a bank (its entries are kept)."""
    _set_enabled(name, False)


@command.command("enable")
@click.argument("name")
@common_options
@handle_errors
def enable_cmd(name: str) -> None:
    """Match against a bank again."""
    _set_enabled(name, True)


@command.command("set")
@click.argument("name")
@click.option("--threshold", type=click.IntRange(0, 128))
@click.option("--quality-min", type=click.IntRange(0, 100))
@click.option("--enabled-ratio", type=click.FloatRange(0, 1), help="Raise it to widen a roll-out.")
@click.option("--dihedral/--no-dihedral", default=None)
@click.option("--video-query-pct", type=click.FloatRange(0, 100))
@click.option("--video-target-pct", type=click.FloatRange(0, 100))
@click.option("--description")
@common_options
@handle_errors
def set_cmd(name: str, **changes: Any) -> None:
    """Change a bank's settings (audited)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        fail("name at least one setting to change")
    with state().database().session() as session:
        bank = service.get_bank(session, name)
        service.update_bank(session, bank, current_actor(), **changes)
        info = service.bank_json(session, bank)
    _out({"status": "ok", **info}, f"bank {name}: " + ", ".join(f"{k} = {v}" for k, v in changes.items()))


@command.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Confirm: the bank, its entries and its matches go.")
@common_options
@handle_errors
def delete_cmd(name: str, yes: bool) -> None:
    """Delete a bank with its entries and recorded matches (audited)."""
    if not yes:
        fail("deleting a bank removes its entries and match records: add --yes to confirm")
    db = state().database()
    with db.session() as session:
        n = service.delete_bank(session, service.get_bank(session, name), current_actor())
    bank_index.sync(db)
    _out({"status": "ok", "bank": name, "deleted_entries": n}, f"deleted bank {name} ({n} entries)")


def _store(name: str, records: list[BankRecord], source: str, case_id: str | None,
           note: str | None, extra: dict[str, Any]) -> None:
    db = state().database()
    with db.session() as session:
        bank = service.get_bank(session, name)
        result = service.add_records(session, bank, records, source=source, actor=current_actor(),
                                     case_id=case_id, note=note)
    bank_index.sync(db)  # new hashes are matchable now, without a rebuild
    _out({"status": "ok", "bank": name, "added": result.added, "duplicates": result.duplicates, **extra},
         f"bank {name}: added {result.added}, already present {result.duplicates}"
         + "".join(f", {k} {v}" for k, v in extra.items() if not isinstance(v, list)))


@command.command("add")
@click.argument("name")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--from-scan", "scan_id", type=int, help="Add the hashes of every item of a past scan.")
@click.option("--hashes", "hashes_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A text file of hashes: one per line, 'pdq HEX', 'md5 HEX', 'sha256 HEX' or bare "
              "HEX (64 characters = PDQ, 32 = MD5).")
@click.option("--case", "case_id", help="Case id (a withdrawal by case id removes them all).")
@click.option("--note")
@click.option("--video-fps", type=click.FloatRange(min=0.001), default=1.0, show_default=True)
@common_options
@handle_errors
def add_cmd(name: str, files: tuple[Path, ...], scan_id: int | None, hashes_file: Path | None,
            case_id: str | None, note: str | None, video_fps: float) -> None:
    """Add media FILES (hashed here, never stored), a past scan's items, or a hash list."""
    if not files and scan_id is None and hashes_file is None:
        fail("name FILES, --from-scan ID or --hashes FILE")
    records: list[BankRecord] = []
    problems: list[str] = []
    if files:
        for report in subm.hash_paths(list(files), video_fps=video_fps, workers=default_workers()):
            item = subm.submission_item(report)
            if item is None:
                problems.append(f"{report.path}: {report.error or 'no hash'}")
            else:
                records.extend(subm.records_from_item(item))
    if scan_id is not None:
        records.extend(_scan_records(scan_id))
    if hashes_file is not None:
        records.extend(_hash_list(hashes_file))
    _store(name, records, "file" if files else "scan" if scan_id is not None else "hashes",
           case_id, note, {"unreadable": problems} if problems else {})
    for problem in problems:
        click.echo(f"skipped {problem}", err=True)
    if problems:
        sys.exit(EXIT_PARTIAL)


def _scan_records(scan_id: int) -> list[BankRecord]:
    with state().database().session() as session:
        results = session.scalars(select(Item.result).where(Item.scan_id == scan_id, Item.status == "ok"))
        records = []
        for result in results:
            try:
                records.extend(subm.records_from_item(result))
            except RecordError:
                continue  # an item without hashes (the hash signal did not run on it)
    if not records:
        fail(f"scan {scan_id} has no hashed items")
    return records


def _hash_list(path: Path) -> list[BankRecord]:
    records = []
    for line, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        signal, value = (parts[0], parts[1]) if len(parts) >= 2 else (
            {64: "pdq", 32: "md5"}.get(len(text), "pdq"), text)
        try:
            records.append(make_record(signal, value))
        except RecordError as exc:
            fail(f"{path}: line {line}, field {exc.field}: {exc} (nothing was added)")
    return records


@command.command("withdraw")
@click.argument("name")
@click.argument("hash_hex", required=False, metavar="HASH")
@click.option("--case", "case_id", help="Withdraw every entry of this case id instead.")
@click.option("--reason", required=True, help="Why (kept with who and when).")
@common_options
@handle_errors
def withdraw_cmd(name: str, hash_hex: str | None, case_id: str | None, reason: str) -> None:
    """Withdraw a hash (or a case's hashes): it stops matching at once."""
    if (hash_hex is None) == (case_id is None):
        fail("name either a HASH or --case ID")
    db = state().database()
    with db.session() as session:
        bank = service.get_bank(session, name)
        ids = service.withdraw(session, bank, current_actor(), reason, hash_hex=hash_hex, case_id=case_id)
    bank_index.sync(db)
    if not ids:
        fail(f"nothing active in bank {name} matches {hash_hex or 'case ' + str(case_id)}")
    _out({"status": "ok", "bank": name, "withdrawn": len(ids), "entry_ids": ids},
         f"bank {name}: withdrew {len(ids)} entr{'y' if len(ids) == 1 else 'ies'}")


@command.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS),
              help="csv (HMA bank export), te (python-threatexchange hash file) or jsonl; "
              "default from the file name.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--case", "case_id", help="Set this case id on every imported entry.")
@common_options
@handle_errors
def import_cmd(name: str, file: Path, fmt: str | None, skip_bad: bool, case_id: str | None) -> None:
    """Import a hash list. A malformed row stops the import (nothing added) unless --skip-bad."""
    fmt = fmt or formats.guess_format(file.name)
    with state().database().session() as session:
        service.get_bank(session, name)  # a wrong bank name is the first thing to say
    with open(file, encoding="utf-8", newline="", errors="strict") as fh:
        try:
            parsed = formats.parse(fh, fmt)
        except UnicodeDecodeError as exc:
            fail(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was imported")
    bad = [str(e) for e in parsed.errors]
    if bad and not skip_bad:
        for line in bad[:20]:
            click.echo(f"{file}: {line}", err=True)
        fail(f"{file}: {len(bad)} malformed row(s), first: {bad[0]}; nothing was imported "
             "(--skip-bad imports the good rows)")
    for line in bad:
        click.echo(f"skipped {file}: {line}", err=True)
    _store(name, [r for _, r in parsed.records], "import", case_id, None,
           {"format": fmt, "bad_rows": bad} if bad else {"format": fmt})
    if bad:
        sys.exit(EXIT_PARTIAL)


@command.command("export")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write here (default: standard output).")
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS), default=None,
              help="Default from the output name, else jsonl.")
@common_options
@handle_errors
def export_cmd(name: str, output: Path | None, fmt: str | None) -> None:
    """Export a bank's active entries (lossless: importing the file gives the same entries)."""
    fmt = fmt or (formats.guess_format(output.name) if output else "jsonl")
    with state().database().session() as session:
        bank = service.get_bank(session, name)
        records = [service.to_record(e) for e in service.active_entries(session, bank)]
    if output is None:
        formats.write(records, sys.stdout, fmt)
        return
    with open(output, "w", encoding="utf-8", newline="") as fh:
        n = formats.write(records, fh, fmt)
    _out({"status": "ok", "bank": name, "exported": n, "format": fmt, "output": str(output)},
         f"exported {n} entries of bank {name} to {output} ({fmt})")


@command.command("import-submission")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--case", "case_id", required=True, help="Case id: withdrawing it removes them all.")
@click.option("--note")
@common_options
@handle_errors
def import_submission_cmd(name: str, file: Path, case_id: str, note: str | None) -> None:
    """Add a victim's submission (made with `consentry hash`) to a bank."""
    with state().database().session() as session:
        service.get_bank(session, name)
    try:
        records = subm.read(file)
    except subm.SubmissionError as exc:
        fail(f"{exc}; nothing was imported")
    _store(name, records, "submission", case_id, note, {"case_id": case_id})
