"""Fetching an exchange into its bank: each new piece is imported (bad rows reported, never
stopping the good ones: a feed is not all-or-nothing) and the checkpoint kept after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consentry.errors import ConfigError
from consentry.match.banks import formats, importer, service
from consentry.match.exchange import sources, state
from consentry.match.exchange.base import ExchangeError
from consentry.store.db import Database


@dataclass
class FetchReport:
    exchange: str
    bank: str
    pieces: list[str] = field(default_factory=list)
    added: int = 0
    duplicates: int = 0
    withdrawn: int = 0
    bad_rows: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "bank": self.bank, "pieces": self.pieces, "added": self.added,
                "duplicates": self.duplicates, "withdrawn": self.withdrawn, "bad_rows": self.bad_rows,
                "error": self.error}


def add(db: Database, config: state.ExchangeConfig) -> None:
    state.check_name(config.name)
    service.require(db, config.bank)
    sources.build(config.source, config.settings)  # refuse bad settings now, not at fetch time
    configs = state.load_all(db)
    if config.name in configs:
        raise ConfigError(f"an exchange named {config.name!r} already exists")
    configs[config.name] = config
    state.save_all(db, configs)


def remove(db: Database, name: str) -> None:
    configs = state.load_all(db)
    if configs.pop(name, None) is None:
        raise ConfigError(f"no exchange named {name!r} (see `consentry exchange list`)")
    state.save_all(db, configs)
    state.save_checkpoint(db, name, None)


def get(db: Database, name: str) -> state.ExchangeConfig:
    config = state.load_all(db).get(name)
    if config is None:
        raise ConfigError(f"no exchange named {name!r} (see `consentry exchange list`)")
    return config


def fetch(db: Database, name: str, actor: str) -> FetchReport:
    config = get(db, name)
    report = FetchReport(name, config.bank)
    bank = service.require(db, config.bank)
    source = sources.build(config.source, config.settings)
    with state.locked(db, name):
        try:
            for piece in source.fetch(state.checkpoint(db, name)):
                outcome = _import(db, bank, piece, actor=actor, source_label=f"exchange:{name}")
                assert outcome.result is not None
                report.pieces.append(piece.label)
                report.added += outcome.result.added
                report.duplicates += outcome.result.duplicates
                report.withdrawn += outcome.result.withdrawn
                report.bad_rows += [f"{piece.label}: {e}" for e in outcome.errors]
                state.save_checkpoint(db, name, piece.checkpoint)  # imported: never read again
        except ExchangeError as exc:
            report.error = str(exc)
    return report


def _import(db: Database, bank: service.BankInfo, piece: Any, *, actor: str, source_label: str
            ) -> importer.ImportOutcome:
    if piece.rows is not None:
        return importer.import_rows(db, bank, piece.rows, "rows", skip_bad=True, case_id=None,
                                    actor=actor, source=source_label)
    with piece.open_stream() as stream:
        fmt = piece.fmt or formats.detect(stream)
        return importer.import_stream(db, bank, stream, fmt, skip_bad=True, case_id=None, actor=actor,
                                      source=source_label)
