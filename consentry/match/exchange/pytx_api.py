"""``pytx``: any python-threatexchange ``SignalExchangeAPI`` as a source, so the clients pytx
has (ThreatExchange, NCMEC, StopNCII, its ``local_file``) are reused, not rewritten.

The pytx client yields deltas of ``(signal type name, signal) -> metadata``; metadata None
means the signal was removed upstream, which withdraws the entry here. Names resolve through
our hash-type catalogue (pytx's ``video_md5`` is our ``md5``); types we do not match (URLs,
text) are reported as bad rows. The checkpoint is the pytx checkpoint dataclass's fields.

Settings: ``api`` (a ``SignalExchangeAPI`` class as ``module:Class``, or a short name in
``APIS``) and ``collab`` (the fields of its collaboration config). Credentials, where a
client needs them, come from pytx's own credential helpers (environment or ~/.tx_* files).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from typing import Any

from consentry.match.banks.formats import Row, RowError
from consentry.match.banks.records import RecordError, make_record
from consentry.match.exchange.base import Checkpoint, ExchangeError, ExchangeSource, Piece

APIS = {
    "local_file": "threatexchange.exchanges.impl.file_api:LocalFileSignalExchangeAPI",
    "fb_threatexchange": ("threatexchange.exchanges.impl.fb_threatexchange_api:"
                          "FBThreatExchangeSignalExchangeAPI"),
    "ncmec": "threatexchange.exchanges.impl.ncmec_api:NCMECSignalExchangeAPI",
    "stop_ncii": "threatexchange.exchanges.impl.stop_ncii_api:StopNCIISignalExchangeAPI",
}


class PytxSource(ExchangeSource):
    kind = "pytx"
    description = "a python-threatexchange exchange client (local_file, fb_threatexchange, ncmec, stop_ncii)"

    def __init__(self, api: str, collab: dict[str, Any]) -> None:
        self.api = api
        self.collab = dict(collab)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PytxSource:
        if not settings.get("api"):
            raise ValueError(f"pytx needs an api ({', '.join(APIS)} or module:Class)")
        return cls(str(settings["api"]), dict(settings.get("collab") or {}))

    def settings(self) -> dict[str, Any]:
        return {"api": self.api, "collab": self.collab}

    def _api_class(self) -> Any:
        target = APIS.get(self.api, self.api)
        module_name, _, class_name = target.partition(":")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except ImportError as exc:
            raise ExchangeError(f"pytx source {self.api}: python-threatexchange is not installed "
                                f"(pip install threatexchange): {exc}") from None
        except AttributeError:
            raise ExchangeError(f"pytx source: no class {target}") from None

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Piece]:
        api_cls = self._api_class()
        config_cls = api_cls.get_config_cls()
        names = {f.name for f in dataclasses.fields(config_cls)}
        collab = config_cls(**{"api": api_cls.get_name() if hasattr(api_cls, "get_name") else self.api,
                               "enabled": True, "name": self.api,
                               **{k: v for k, v in self.collab.items() if k in names}})
        client = api_cls.for_collab(collab)
        previous = None
        if checkpoint and checkpoint.get("pytx") is not None:
            previous = api_cls.get_checkpoint_cls()(**checkpoint["pytx"])
        for n, delta in enumerate(client.fetch_iter([], previous), start=1):
            rows = list(_rows(delta.updates, n))
            state = dataclasses.asdict(delta.checkpoint) if dataclasses.is_dataclass(delta.checkpoint) else {}
            yield Piece(f"{self.api} page {n}", {"pytx": state}, rows=rows)


def _rows(updates: dict[Any, Any], page: int) -> Iterator[Row | RowError]:
    for (signal_type, signal), metadata in updates.items():
        name = getattr(signal_type, "get_name", lambda st=signal_type: str(st))()
        try:
            record = make_record(name, signal, attributes=_opinion(metadata))
        except RecordError as exc:
            yield RowError(page, exc.field, f"{name}: {exc}")
            continue
        yield Row(page, record, withdraw=metadata is None)


def _opinion(metadata: Any) -> dict[str, Any]:
    try:
        opinion = metadata.get_as_aggregate_opinion()
    except Exception:  # no opinions (or a client without them)
        return {}
    out: dict[str, Any] = {"category": opinion.category.name}
    if opinion.tags:
        out["tags"] = sorted(opinion.tags)
    return out
