"""What an operator sets for human review. ``consentry serve`` reads these from the
environment (so its HTTP and job worker processes share them); its ``--review-*`` flags set
the same variables for the processes it starts (``SERVE_FLAGS``); tests build them directly.

    CONSENTRY_REVIEW_MEDIA=1             keep media of items sent to review (off by default)
    CONSENTRY_REVIEW_MEDIA_KEY=<base64>  32 random bytes: `python -c "import os,base64;
                                         print(base64.b64encode(os.urandom(32)).decode())"`
    CONSENTRY_REVIEW_MEDIA_DIR=PATH      where the encrypted files live (default: SPOOL/review-media)
    CONSENTRY_REVIEW_KEEP_DAYS=7         days media stays after the decision
    CONSENTRY_REVIEW_BREAK_AFTER=25      items opened in a session before a break reminder
    CONSENTRY_REVIEW_SESSION_IDLE_MIN=30 / CONSENTRY_REVIEW_SESSION_MAX_HOURS=9
    CONSENTRY_REVIEW_CLAIM_MIN=15        how long a claim holds an item
    CONSENTRY_REVIEW_SIGNIN_FAILURES=5   failed sign-ins per name within the window, then refused
    CONSENTRY_REVIEW_SIGNIN_FAILURES_PER_ADDRESS=20   the same per client address (any names)
    CONSENTRY_REVIEW_SIGNIN_WINDOW_MIN=15
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from consentry.errors import ConfigError

if TYPE_CHECKING:
    from consentry.store.db import Database
    from consentry.store.retention import MediaVault

LIKENESS_ROLES = ("senior_reviewer", "admin")  # who sees likeness-registry matches
DECIDERS = ("reviewer", "senior_reviewer")


@dataclass(frozen=True)
class ReviewSettings:
    retain_media: bool = False
    media_key: bytes | None = None
    media_dir: Path | None = None
    keep_days: float = 7.0
    break_after: int = 25
    session_idle_s: float = 30 * 60
    session_max_s: float = 9 * 3600
    claim_s: float = 15 * 60
    # Failed sign-ins per name within the window before sign-in is refused for that name, and
    # from one client address (any names: higher, as people behind one NAT share an address).
    signin_failures: int = 5
    signin_failures_per_address: int = 20
    signin_window_s: float = 15 * 60
    cookie_secure: bool = True

    def __post_init__(self) -> None:
        if self.retain_media and (self.media_key is None or len(self.media_key) != 32):
            raise ConfigError("keeping media for review needs CONSENTRY_REVIEW_MEDIA_KEY: "
                              "base64 of 32 random bytes")
        if self.break_after < 1 or self.keep_days < 0:
            raise ConfigError("break_after is at least 1 and keep_days at least 0")
        if min(self.signin_failures, self.signin_failures_per_address) < 1 or self.signin_window_s <= 0:
            raise ConfigError("sign-in limits are at least 1 failure, over a window of more than 0 minutes")
        if min(self.session_idle_s, self.session_max_s, self.claim_s) <= 0:
            raise ConfigError("session and claim times are more than 0")

    @classmethod
    def from_env(cls) -> ReviewSettings:
        env = os.environ
        key = None
        if env.get("CONSENTRY_REVIEW_MEDIA_KEY"):
            try:
                key = base64.b64decode(env["CONSENTRY_REVIEW_MEDIA_KEY"], validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError("CONSENTRY_REVIEW_MEDIA_KEY is not base64") from None
        try:
            return cls(
                retain_media=env.get("CONSENTRY_REVIEW_MEDIA", "0").lower() in ("1", "true", "yes"),
                media_key=key,
                media_dir=Path(folder) if (folder := env.get("CONSENTRY_REVIEW_MEDIA_DIR")) else None,
                keep_days=float(env.get("CONSENTRY_REVIEW_KEEP_DAYS", 7)),
                break_after=int(env.get("CONSENTRY_REVIEW_BREAK_AFTER", 25)),
                session_idle_s=float(env.get("CONSENTRY_REVIEW_SESSION_IDLE_MIN", 30)) * 60,
                session_max_s=float(env.get("CONSENTRY_REVIEW_SESSION_MAX_HOURS", 9)) * 3600,
                claim_s=float(env.get("CONSENTRY_REVIEW_CLAIM_MIN", 15)) * 60,
                signin_failures=int(env.get("CONSENTRY_REVIEW_SIGNIN_FAILURES", 5)),
                signin_failures_per_address=int(env.get("CONSENTRY_REVIEW_SIGNIN_FAILURES_PER_ADDRESS", 20)),
                signin_window_s=float(env.get("CONSENTRY_REVIEW_SIGNIN_WINDOW_MIN", 15)) * 60)
        except ValueError as exc:
            raise ConfigError(f"a CONSENTRY_REVIEW_* setting is not a number: {exc}") from None

    def vault(self, db: Database, spool_dir: Path) -> MediaVault | None:
        """The encrypted media store, or None when retention is off."""
        if not self.retain_media or self.media_key is None:
            return None
        from consentry.store.retention import MediaVault

        return MediaVault(db, self.media_dir or spool_dir / "review-media", self.media_key,
                          self.keep_days)


# ``consentry serve`` flag (its option name) -> the variable it sets for the service's processes.
SERVE_FLAGS = {
    "review_media_dir": "CONSENTRY_REVIEW_MEDIA_DIR",
    "review_keep_days": "CONSENTRY_REVIEW_KEEP_DAYS",
    "review_break_after": "CONSENTRY_REVIEW_BREAK_AFTER",
    "review_session_idle_min": "CONSENTRY_REVIEW_SESSION_IDLE_MIN",
    "review_session_max_hours": "CONSENTRY_REVIEW_SESSION_MAX_HOURS",
    "review_claim_min": "CONSENTRY_REVIEW_CLAIM_MIN",
    "review_signin_failures": "CONSENTRY_REVIEW_SIGNIN_FAILURES",
    "review_signin_failures_per_address": "CONSENTRY_REVIEW_SIGNIN_FAILURES_PER_ADDRESS",
    "review_signin_window_min": "CONSENTRY_REVIEW_SIGNIN_WINDOW_MIN",
}


def apply_serve_flags(flags: dict[str, object], *, retain: bool | None,
                      key_file: Path | None) -> ReviewSettings:
    """Put the flags given into the environment (a flag wins over a variable already set; an
    unset flag leaves the variable as it was), then read and check the whole setting, so a bad
    value fails before any process starts. The key is read from a file, never a flag: a
    command line is visible to every user of the machine."""
    for name, var in SERVE_FLAGS.items():
        if flags.get(name) is not None:
            os.environ[var] = str(flags[name])
    if retain is not None:
        os.environ["CONSENTRY_REVIEW_MEDIA"] = "1" if retain else "0"
    if key_file is not None:
        try:
            os.environ["CONSENTRY_REVIEW_MEDIA_KEY"] = key_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the review media key from {key_file}: {exc}") from None
    return ReviewSettings.from_env()


class RetentionSink:
    """A pipeline sink (the job runner's): keeps the spooled upload of every item the policy
    sends to review, before the runner deletes the spool file."""

    def __init__(self, vault: MediaVault) -> None:
        self.vault = vault

    def start(self, scan_id: int, total: int | None) -> None:
        pass

    def item(self, report) -> None:  # type: ignore[no-untyped-def]
        verdict = report.verdict
        if verdict is None or verdict.action != "review" or report.item_id is None:
            return
        try:
            data = Path(report.path).read_bytes()
        except OSError:
            return  # nothing to keep; the item page says the media is not available
        kind = getattr(report.kind, "value", report.kind)
        self.vault.keep(report.item_id, data, kind)

    def flush(self) -> None:
        self.vault.purge()

    def finish(self, summary) -> None:  # type: ignore[no-untyped-def]
        pass


def review_sinks(db: Database, spool_dir: Path) -> tuple[RetentionSink, ...]:
    """The job runner's extra sinks for review (none unless retention is configured)."""
    vault = ReviewSettings.from_env().vault(db, spool_dir)
    return (RetentionSink(vault),) if vault is not None else ()
