"""``consentry hash FILES -o submission.json``: victim-side hashing.

Runs on the victim's own device: it writes only hashes (PDQ + MD5 for images, vPDQ + MD5 for
videos), never the media and no file names unless --keep-names. It opens no database and
no network connection; the file is what a helpline or platform imports with
``consentry bank import-submission``. Format: docs/banks.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from consentry.cli.common import EXIT_PARTIAL, emit, fail, handle_errors, json_option, state
from consentry.match.banks import submission as subm


@click.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              required=True, help="Where to write the submission (JSON); '-' for standard output.")
@click.option("--keep-names", is_flag=True, help="Also write each file's name (not its folder).")
@click.option("--video-fps", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Video frames hashed per second (match the bank's setting).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core).")
@json_option  # no --db: hashing never opens a database
@handle_errors
def command(files: tuple[Path, ...], output: Path, keep_names: bool, video_fps: float,
            workers: int | None) -> None:
    """Hash images and videos into a submission file; the media never leaves this device.

    Exit codes: 0 all hashed, 2 nothing could be hashed, 3 some files could not be read
    (the rest are in the file).
    """
    from consentry.pipeline.hashing import hash_paths  # the scan's own analysis
    from consentry.pipeline.runner import default_workers

    items = []
    unreadable = 0
    for report in hash_paths(list(files), video_fps=video_fps, workers=workers or default_workers()):
        item = subm.submission_item(report, keep_name=keep_names)
        if item is None:
            unreadable += 1
            # Local diagnostics only: the path goes to this terminal, never into the file.
            click.echo(f"not hashed: {report.path}: {report.error or 'no hash computed'}", err=True)
            continue
        items.append(item)
    if not items:
        fail("no file could be hashed; no submission written")
    doc = subm.build(items, video_fps=video_fps, n_unreadable=unreadable)
    text = json.dumps(doc, indent=1) + "\n"
    if str(output) == "-":  # the submission is the output: no summary line beside it
        sys.stdout.write(text)
        sys.stdout.flush()
        sys.exit(EXIT_PARTIAL if unreadable else 0)
    tmp = output.with_name(output.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    summary = {"status": "ok", "output": str(output), "items": len(items), "unreadable": unreadable,
               "images": sum(i["kind"] == "image" for i in items),
               "videos": sum(i["kind"] == "video" for i in items)}
    if state().json:
        emit(summary)
    else:
        click.echo(f"wrote {len(items)} hashed item(s) to {output} (no media, "
                   f"{'with' if keep_names else 'no'} file names)")
    if unreadable:
        sys.exit(EXIT_PARTIAL)
