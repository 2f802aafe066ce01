"""``consentry scan PATH...``: the main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.pipeline.runner import Analysis, default_workers
from consentry.policy.engine import RulesPolicy
from consentry.settings import Limits, ScanSettings
from consentry.types import ItemReport

if TYPE_CHECKING:
    from consentry.pipeline.scan import ScanSummary


def _signals(_ctx: click.Context, _param: click.Parameter, value: str | None):  # type: ignore[no-untyped-def]
    if value is None:
        return None
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise click.BadParameter("name at least one signal")
    return names


@click.command("scan")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, readable=False))
@click.option("--signals", callback=_signals, metavar="A,B,...",
              help="Signals to run (default: every installed one). `hash` runs only the hashes.")
@click.option("--dihedral", is_flag=True, help="Also compute the 8 rotation/flip PDQ hashes.")
@click.option("--every-frame", is_flag=True, help="Hash every video frame (vPDQ).")
@click.option("--video-fps", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Video frames hashed per second.")
@click.option("--sexual-fps", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Video frames scored for sexual content per second.")
@click.option("--faces-fps", type=click.FloatRange(min=0.001), default=2.0, show_default=True,
              help="Video frames searched for faces per second.")
@click.option("--min-face-size", type=click.FloatRange(min=1), default=64.0, show_default=True,
              help="Faces narrower than this (pixels) are reported but not matched.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core).")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a self-contained HTML report here.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Policy file (TOML) turning findings into verdicts (default: the shipped "
              "policy, see `consentry policy show`).")
@click.option("--no-blur", is_flag=True, help="Show report thumbnails unblurred and in colour.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=Limits.max_pixels,
              show_default=True, help="Refuse images or frames with more pixels.")
@click.option("--max-duration", type=click.FloatRange(min=1), default=Limits.max_duration_s,
              show_default=True, help="Refuse videos that claim to last longer (seconds).")
@click.option("--max-decode-seconds", type=click.FloatRange(min=1), default=Limits.max_decode_s,
              show_default=True, help="Stop decoding an item after this long.")
@click.option("--max-file-size", type=click.IntRange(min=1), default=Limits.max_file_bytes,
              show_default=True, help="Refuse files larger than this many bytes.")
@click.option("--full-decode", is_flag=True,
              help="Decode JPEGs at full size for hashing (default: reduced-scale for big ones).")
@common_options
@handle_errors
def command(paths: tuple[Path, ...], signals: tuple[str, ...] | None, dihedral: bool,
            every_frame: bool, video_fps: float, sexual_fps: float, faces_fps: float,
            min_face_size: float, workers: int | None,
            report_path: Path | None, no_blur: bool, max_pixels: int, max_duration: float,
            max_decode_seconds: float, max_file_size: int, full_decode: bool,
            policy_path: Path | None) -> None:
    """Scan images, videos and folders; store and print what was found.

    Exit codes: 0 nothing flagged, 1 something flagged, 2 usage or fatal error,
    3 some items could not be read (the rest were done), 130 interrupted.
    """
    policy = RulesPolicy.from_file(policy_path)  # a bad policy stops here, before any work
    settings = ScanSettings(
        limits=Limits(max_pixels=max_pixels, max_file_bytes=max_file_size,
                      max_duration_s=max_duration, max_decode_s=max_decode_seconds),
        video_fps=None if every_frame else video_fps,
        faces_fps=faces_fps,
        faces_min_size=min_face_size,
        sexual_fps=sexual_fps,
        dihedral=dihedral,
        signals=signals,
        fast_jpeg=not full_decode,
        thumbnails=report_path is not None,
    )
    # The workers start on the files now, while this process opens the database.
    analysis = Analysis(paths, settings, workers or default_workers())
    try:
        summary = _run(analysis, paths, settings, policy, report_path, blur=not no_blur)
    finally:
        analysis.close()
    sys.exit(summary.exit_code)


def _run(analysis: Analysis, paths: tuple[Path, ...], settings: ScanSettings,
         policy: RulesPolicy, report_path: Path | None, *, blur: bool) -> ScanSummary:
    from consentry.pipeline.scan import run_scan  # loads SQLAlchemy: after the workers forked

    st = state()
    db = st.database()
    reports: list[ItemReport] = []
    console = None
    if not st.json:
        from consentry.cli.summary import ScanConsole  # rich loads only for a terminal

        console = ScanConsole()

    def on_item(report: ItemReport) -> None:
        if report_path is not None:
            reports.append(report)
        if st.json:
            emit(report.as_json(), flush=False)  # flushed once per stored batch
        else:
            assert console is not None
            console.item(report)

    if console:
        console.start()
    try:
        summary = run_scan(list(paths), settings, db, policy=policy, on_item=on_item,
                           on_batch=sys.stdout.flush, analysis=analysis)
    finally:
        if console:
            console.stop()
    if report_path is not None:
        from consentry.actions.report import write_report

        write_report(report_path, reports, summary.scan_id, blur=blur)
    if console:
        console.summary(summary, report_path)
    return summary
