"""``consentry exchange``: follow another system's hash list into a bank, with a checkpoint
(a local file or folder, an HTTP feed in our te/jsonl format, or a python-threatexchange
client). ``fetch`` reads only what is new since the last fetch; ``--watch`` keeps fetching
every exchange at its interval. See docs/banks.md.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from consentry.cli.common import EXIT_PARTIAL, common_options, emit, fail, handle_errors, state
from consentry.store.db import current_actor

SOURCE_KINDS = ("local_file", "http", "pytx")


@click.group("exchange")
def command() -> None:
    """Follow hash lists from other systems into banks."""


@command.command("add")
@click.argument("name")
@click.option("--bank", required=True, help="The bank the fetched hashes go into.")
@click.option("--source", "kind", type=click.Choice(SOURCE_KINDS), required=True,
              help="local_file (a file or folder), http (a feed URL) or pytx (a python-threatexchange "
              "client).")
@click.option("--path", help="local_file: the hash-list file, or a folder watched for new files.")
@click.option("--url", help="http: the feed's URL ({since} is replaced by the last fetch time).")
@click.option("--format", "fmt", help="The feed's format (te, jsonl, csv, te-csv, stopncii); "
              "default: detected from the content.")
@click.option("--api", help="pytx: the client (local_file, fb_threatexchange, ncmec, stop_ncii or "
              "module:Class).")
@click.option("--collab", "collab_json", help="pytx: the collaboration config's fields as JSON.")
@click.option("--interval", type=click.FloatRange(min=1.0), default=3600.0, show_default=True,
              help="Seconds between fetches with `exchange fetch --watch`.")
@common_options
@handle_errors
def add_cmd(name: str, bank: str, kind: str, path: str | None, url: str | None, fmt: str | None,
            api: str | None, collab_json: str | None, interval: float) -> None:
    """Configure an exchange (nothing is fetched until `exchange fetch`)."""
    from consentry.match.exchange import runner
    from consentry.match.exchange import state as ex_state

    settings: dict[str, Any] = {"local_file": {"path": path, "format": fmt},
                                "http": {"url": url, "format": fmt},
                                "pytx": {"api": api, "collab": _json_object(collab_json)}}[kind]
    try:
        runner.add(state().database(), ex_state.ExchangeConfig(name, bank, kind, settings, interval))
    except ValueError as exc:
        fail(str(exc))
    _out({"status": "ok", "exchange": name, "bank": bank, "source": kind},
         f"exchange {name}: {kind} into bank {bank} (fetch with `consentry exchange fetch {name}`)")


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--collab is not JSON: {exc.msg}")
    if not isinstance(value, dict):
        fail("--collab must be a JSON object")
    return value


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every configured exchange and how far it got."""
    from consentry.match.exchange import state as ex_state

    db = state().database()
    for name, config in ex_state.load_all(db).items():
        checkpoint = ex_state.checkpoint(db, name)
        if state().json:
            emit({**config.as_json(), "checkpoint": checkpoint})
        else:
            where = config.settings.get("path") or config.settings.get("url") or config.settings.get("api")
            click.echo(f"{name}\t{config.source}\t{where}\t-> bank {config.bank}\t"
                       f"{'fetched before' if checkpoint else 'never fetched'}")


@command.command("remove")
@click.argument("name")
@common_options
@handle_errors
def remove_cmd(name: str) -> None:
    """Forget an exchange and its checkpoint (the bank keeps what it fetched)."""
    from consentry.match.exchange import runner

    runner.remove(state().database(), name)
    _out({"status": "ok", "exchange": name, "removed": True}, f"exchange {name} removed")


@command.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--watch", is_flag=True, help="Keep fetching each exchange at its interval (Ctrl-C stops).")
@common_options
@handle_errors
def fetch_cmd(names: tuple[str, ...], watch: bool) -> None:
    """Fetch what is new from the named exchanges (default: all) into their banks.

    Exit codes: 0 fetched, 3 some rows were bad or a source could not be read (the rest is in).
    """
    from consentry.match.exchange import runner
    from consentry.match.exchange import state as ex_state

    db = state().database()
    chosen = list(names) or list(ex_state.load_all(db))
    if not chosen:
        fail("no exchange is configured (see `consentry exchange add`)")
    for name in chosen:
        runner.get(db, name)  # a wrong name is the first thing to say
    due = dict.fromkeys(chosen, 0.0)
    partial = False
    while True:
        for name in chosen:
            if time.monotonic() < due[name]:
                continue
            report = runner.fetch(db, name, current_actor())
            due[name] = time.monotonic() + runner.get(db, name).interval_s
            partial |= bool(report.bad_rows or report.error)
            _show(report)
        if not watch:
            break
        time.sleep(max(1.0, min(due.values()) - time.monotonic()))
    if partial:
        sys.exit(EXIT_PARTIAL)


def _show(report: Any) -> None:
    if state().json:
        emit({"status": "error" if report.error else "ok", **report.as_json()})
        return
    text = (f"exchange {report.exchange} -> bank {report.bank}: {len(report.pieces)} new piece(s), "
            f"added {report.added}, already present {report.duplicates}, withdrawn {report.withdrawn}")
    click.echo(text)
    for line in report.bad_rows:
        click.echo(f"skipped {line}", err=True)
    if report.error:
        click.echo(f"error: {report.error}", err=True)


def _out(obj: dict[str, Any], text: str) -> None:
    if state().json:
        emit(obj)
    else:
        click.echo(text)
