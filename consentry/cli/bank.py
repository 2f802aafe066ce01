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

from consentry.cli.common import EXIT_PARTIAL, common_options, emit, fail, handle_errors, state
from consentry.match.banks import formats, service
from consentry.match.banks import submission as subm
from consentry.match.banks.records import BankRecord, RecordError, make_record, records_from_item
from consentry.store.db import current_actor


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
              help="PDQ Hamming distance for a match (vPDQ: per frame).")
@click.option("--quality-min", type=click.IntRange(0, 100), default=50, show_default=True,
              help="Ignore item hashes (and video frames) below this PDQ quality.")
@click.option("--enabled-ratio", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Enforce matches on this share of items only (gradual roll-out).")
@click.option("--dihedral", is_flag=True, help="Also match rotated and flipped copies (8 PDQ hashes).")
@click.option("--video-query-pct", type=click.FloatRange(0, 100), default=80.0, show_default=True,
              help="vPDQ: share of the scanned video's unique frames that must match.")
@click.option("--video-target-pct", type=click.FloatRange(0, 100), default=0.0, show_default=True,
              help="vPDQ: share of the banked video's unique frames that must match.")
@click.option("--description", help="Free text shown by `bank show`.")
@common_options
@handle_errors
def create_cmd(name: str, kind: str, threshold: int, quality_min: int, enabled_ratio: float,
               dihedral: bool, video_query_pct: float, video_target_pct: float,
               description: str | None) -> None:
    """Create a bank."""
    info = service.create(state().database(), name, kind, current_actor(), threshold=threshold,
                          quality_min=quality_min, enabled_ratio=enabled_ratio, dihedral=dihedral,
                          video_query_pct=video_query_pct, video_target_pct=video_target_pct,
                          description=description)
    _out({"status": "ok", **info.as_json()}, f"created bank {name} ({kind}, threshold {threshold})")


def _counts(entries: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(entries.items())) or "none"


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every bank with its settings and entry counts."""
    infos = service.banks(state().database())
    if state().json:
        for info in infos:
            emit(info.as_json())
        return
    table = Table("bank", "kind", "enabled", "threshold", "quality", "ratio", "dihedral", "entries")
    for i in infos:
        table.add_row(i.name, i.kind, _yes(i.enabled), str(i.threshold), str(i.quality_min),
                      f"{i.enabled_ratio:g}", _yes(i.dihedral), _counts(i.entries))
    Console().print(table)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@command.command("show")
@click.argument("name")
@click.option("--entries", "n_entries", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many active entries to list.")
@common_options
@handle_errors
def show_cmd(name: str, n_entries: int) -> None:
    """One bank's settings, counts and first entries."""
    info, entries = service.show(state().database(), name, n_entries)
    if state().json:
        emit({**info.as_json(), "first_entries": [e.as_json() for e in entries]})
        return
    created = info.created_at.strftime("%Y-%m-%d %H:%M UTC") if info.created_at else "-"
    lines = [("bank", info.name), ("kind", info.kind), ("enabled", _yes(info.enabled)),
             ("threshold", str(info.threshold)), ("quality min", str(info.quality_min)),
             ("enabled ratio", f"{info.enabled_ratio:g}"), ("dihedral", _yes(info.dihedral)),
             ("video query %", f"{info.video_query_pct:g}"),
             ("video target %", f"{info.video_target_pct:g}"),
             ("description", info.description or "-"), ("created", f"{created} by {info.created_by}"),
             ("entries", _counts(info.entries))]
    for key, value in lines:
        click.echo(f"{key + ':':<16}{value}")
    if entries:
        click.echo("first entries (id, type, hash, case, added):")
    for e in entries:
        added = e.added_at.strftime("%Y-%m-%d") if e.added_at else "-"
        click.echo(f"  {e.entry_id}\t{e.signal}\t{e.hash}\t{e.case_id or '-'}\t{added}")


def _set_enabled(name: str, enabled: bool) -> None:
    service.change(state().database(), name, current_actor(), enabled=enabled)
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
@click.option("--threshold", type=click.IntRange(0, 128), help="PDQ Hamming distance for a match.")
@click.option("--quality-min", type=click.IntRange(0, 100), help="Ignore hashes below this quality.")
@click.option("--enabled-ratio", type=click.FloatRange(0, 1), help="Raise it to widen a roll-out.")
@click.option("--dihedral/--no-dihedral", default=None, help="Match rotated and flipped copies, or not.")
@click.option("--video-query-pct", type=click.FloatRange(0, 100),
              help="vPDQ: share of the scanned video's unique frames that must match.")
@click.option("--video-target-pct", type=click.FloatRange(0, 100),
              help="vPDQ: share of the banked video's unique frames that must match.")
@click.option("--description", help="Free text shown by `bank show`.")
@common_options
@handle_errors
def set_cmd(name: str, **changes: Any) -> None:
    """Change a bank's settings (audited)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        fail("name at least one setting to change")
    info = service.change(state().database(), name, current_actor(), **changes)
    _out({"status": "ok", **info.as_json()},
         f"bank {name}: " + ", ".join(f"{k} = {v}" for k, v in changes.items()))


@command.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Confirm: the bank, its entries and its matches go.")
@common_options
@handle_errors
def delete_cmd(name: str, yes: bool) -> None:
    """Delete a bank with its entries and recorded matches (audited)."""
    if not yes:
        fail("deleting a bank removes its entries and match records: add --yes to confirm")
    n = service.delete(state().database(), name, current_actor())
    _out({"status": "ok", "bank": name, "deleted_entries": n}, f"deleted bank {name} ({n} entries)")


def _report(name: str, result: service.AddResult, extra: dict[str, Any]) -> None:
    body = {"status": "ok", "bank": name, "added": result.added, "duplicates": result.duplicates}
    if result.withdrawn:
        body["withdrawn"] = result.withdrawn
    _out({**body, **extra},
         f"bank {name}: added {result.added}, already present {result.duplicates}"
         + (f", withdrawn {result.withdrawn}" if result.withdrawn else "")
         + "".join(f", {k} {v}" for k, v in extra.items() if not isinstance(v, list)))


@command.command("add")
@click.argument("name")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--from-scan", "scan_id", type=int, help="Add the hashes of every item of a past scan.")
@click.option("--hashes", "hashes_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A text file of hashes: one per line, '<type> HEX' (pdq, md5, sha256, video_md5 ...) "
              "or bare HEX (64 characters = PDQ, 32 = MD5).")
@click.option("--case", "case_id", help="Case id (a withdrawal by case id removes them all).")
@click.option("--note", help="A note kept with each entry.")
@click.option("--video-fps", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Video frames hashed per second (vPDQ) for FILES.")
@click.option("--frames-as-stills", is_flag=True,
              help="Also bank each distinct frame of a video as a photo (PDQ), so a screenshot or "
              "a still taken from it matches.")
@common_options
@handle_errors
def add_cmd(name: str, files: tuple[Path, ...], scan_id: int | None, hashes_file: Path | None,
            case_id: str | None, note: str | None, video_fps: float, frames_as_stills: bool) -> None:
    """Add media FILES (hashed here, never stored), a past scan's items, or a hash list."""
    if not files and scan_id is None and hashes_file is None:
        fail("name FILES, --from-scan ID or --hashes FILE")
    db = state().database()
    service.require(db, name)
    records: list[BankRecord] = []
    problems: list[str] = []
    if files:
        from consentry.pipeline.hashing import hash_paths  # the scan's own analysis
        from consentry.pipeline.runner import default_workers

        for report in hash_paths(list(files), video_fps=video_fps, workers=default_workers()):
            item = subm.submission_item(report)
            if item is None:
                problems.append(f"{report.path}: {report.error or 'no hash'}")
            else:
                records.extend(records_from_item(item))
                if frames_as_stills:
                    records.extend(_frames_as_stills(item))
    if scan_id is not None:
        records.extend(service.scan_records(db, scan_id))
    if hashes_file is not None:
        records.extend(_hash_list(hashes_file))
    source = "file" if files else "scan" if scan_id is not None else "hashes"
    result = service.add(db, name, records, source=source, actor=current_actor(), case_id=case_id,
                         note=note)
    _report(name, result, {"unreadable": problems} if problems else {})
    for problem in problems:
        click.echo(f"skipped {problem}", err=True)
    if problems:
        sys.exit(EXIT_PARTIAL)


def _frames_as_stills(item: dict) -> list[BankRecord]:
    """A PDQ entry per distinct frame of a video item (the bank's quality gate still applies)."""
    frames = {f["hash"]: f for f in item.get("vpdq") or []}
    return [make_record("pdq", h, quality=f.get("quality"),
                        attributes={"video_md5": item.get("md5"), "timestamp": f.get("timestamp")})
            for h, f in frames.items()]


def _hash_list(path: Path) -> list[BankRecord]:
    records = []
    for line, raw in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 1)
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
    ids = service.withdraw_hashes(state().database(), name, current_actor(), reason,
                                  hash_hex=hash_hex, case_id=case_id)
    if not ids:
        fail(f"nothing active in bank {name} matches {hash_hex or 'case ' + str(case_id)}")
    _out({"status": "ok", "bank": name, "withdrawn": len(ids), "entry_ids": ids},
         f"bank {name}: withdrew {len(ids)} entr{'y' if len(ids) == 1 else 'ies'}")


FORMAT_HELP = ("jsonl or csv (Consentry's own, lossless), te (python-threatexchange local_file), "
               "te-csv (pytx `dataset --csv`) or stopncii (StopNCII hash records)")


@command.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS),
              help=FORMAT_HELP + "; default: detected from the content.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--case", "case_id", help="Set this case id on every imported entry.")
@common_options
@handle_errors
def import_cmd(name: str, file: Path, fmt: str | None, skip_bad: bool, case_id: str | None) -> None:
    """Import a hash list. A malformed row stops the import (nothing added) unless --skip-bad;
    every row is either imported (or already present) or reported with its line."""
    from consentry.match.banks.importer import import_file

    db = state().database()
    info = service.require(db, name)  # a wrong bank name is the first thing to say
    outcome = import_file(db, info, file, fmt, skip_bad=skip_bad, case_id=case_id, actor=current_actor())
    bad = [str(e) for e in outcome.errors]
    if bad and not skip_bad:
        for line in bad[:20]:
            click.echo(f"{file}: {line}", err=True)
        fail(f"{file}: {len(bad)} malformed row(s), first: {bad[0]}; nothing was imported "
             "(--skip-bad imports the good rows)")
    for line in bad:
        click.echo(f"skipped {file}: {line}", err=True)
    assert outcome.result is not None
    _report(name, outcome.result,
            {"format": outcome.fmt, "bad_rows": bad} if bad else {"format": outcome.fmt})
    if bad:
        sys.exit(EXIT_PARTIAL)


@command.command("export")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              help="Write here ('-' or none: standard output).")
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS), default=None,
              help=FORMAT_HELP + "; default from the output name, else jsonl.")
@common_options
@handle_errors
def export_cmd(name: str, output: Path | None, fmt: str | None) -> None:
    """Export a bank's active entries (jsonl and csv are lossless: importing the file gives
    the same entries; the other formats hold what their systems read)."""
    to_stdout = output is None or str(output) == "-"
    fmt = fmt or (formats.guess_format(output.name) if output and not to_stdout else "jsonl")
    db = state().database()
    info = service.require(db, name)
    skipped: list[BankRecord] = []
    options: dict[str, Any] = {"bank_kind": info.kind, "collab": info.name, "skipped": skipped}
    if to_stdout:
        formats.write(service.export(db, name), sys.stdout, fmt, **options)
        _skipped_note(skipped, fmt)
        return
    assert output is not None
    tmp = output.with_name(output.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        n = formats.write(service.export(db, name), fh, fmt, **options)
    tmp.replace(output)
    body = {"status": "ok", "bank": name, "exported": n, "format": fmt, "output": str(output)}
    if skipped:
        body["not_exportable"] = len(skipped)
    _out(body, f"exported {n} entries of bank {name} to {output} ({fmt})")
    _skipped_note(skipped, fmt)


def _skipped_note(skipped: list[BankRecord], fmt: str) -> None:
    if skipped:
        kinds = sorted({r.exchange_name for r in skipped})
        click.echo(f"note: {len(skipped)} entries ({', '.join(kinds)}) have no {fmt} form and "
                   "were left out", err=True)


@command.command("import-submission")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--case", "case_id", required=True, help="Case id: withdrawing it removes them all.")
@click.option("--note", help="A note kept with each entry.")
@common_options
@handle_errors
def import_submission_cmd(name: str, file: Path, case_id: str, note: str | None) -> None:
    """Add a victim's submission (made with `consentry hash`) to a bank."""
    db = state().database()
    service.require(db, name)
    try:
        records = subm.read(file)
    except subm.SubmissionError as exc:
        fail(f"{exc}; nothing was imported")
    result = service.add(db, name, records, source="submission", actor=current_actor(),
                         case_id=case_id, note=note)
    _report(name, result, {"case_id": case_id})
