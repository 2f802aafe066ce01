"""The consent record an enrolment needs, and the checks it must pass.

Who attested the consent is the operator account running the command (the OS account,
``store.db.current_actor``), never a name typed in. How it was verified is one of
``METHODS`` plus the operator's note; the note must say something (not one character, not
zero-width characters). Consent expires on its review date, which must lie in the future and
at most ``MAX_YEARS`` ahead: an expired consent stops matching until it is renewed.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from consentry.errors import ConfigError

METHODS: dict[str, str] = {
    "in-person": "the person was met and identified in person",
    "video-call": "the person was identified on a live video call",
    "signed-document": "a consent document signed by the person, checked against an identity document",
    "helpline-case": "a helpline case worker verified the person within an open case",
}
MAX_YEARS = 5
MIN_NOTE_CHARS = 12  # visible characters: "signed form" is not enough, a sentence is


@dataclass(frozen=True)
class ConsentRequest:
    """A consent record as the operator gives it, before it is checked."""

    method: str
    note: str
    review_date: date | None
    document: Path | None = None


@dataclass(frozen=True)
class CheckedConsent:
    method: str
    note: str
    review_date: date
    document_name: str | None
    document_sha256: str | None


def visible(text: str) -> str:
    """``text`` without what does not show: format characters (zero-width space, joiners,
    direction marks, BOM), controls, combining marks alone, and whitespace."""
    normal = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normal
                   if not ch.isspace() and unicodedata.category(ch) not in {"Cf", "Cc", "Co", "Cn", "Mn"})


def clean_text(text: str) -> str:
    """``text`` with invisible format characters removed and whitespace collapsed."""
    normal = unicodedata.normalize("NFKC", text)
    kept = "".join(ch for ch in normal if unicodedata.category(ch) not in {"Cf", "Cc"} or ch == " ")
    return " ".join(kept.split())


def check_name(name: str) -> str:
    if not visible(name):
        raise ConfigError("--name must not be empty (nor only invisible characters)")
    return clean_text(name)


def check_consent(request: ConsentRequest, today: date) -> CheckedConsent:
    if request.method not in METHODS:
        raise ConfigError(f"--consent-method must be one of {', '.join(METHODS)}")
    note = clean_text(request.note)
    shown = visible(request.note)
    if len(shown) < MIN_NOTE_CHARS or len(note.split()) < 2:
        raise ConfigError(
            f"--consent must describe the consent in words (at least {MIN_NOTE_CHARS} visible "
            f"characters, two words): who gave it, how it was checked, where the record is")
    if request.review_date is None:
        raise ConfigError("--review-date is required: the day the consent expires and must be reviewed")
    if request.review_date <= today:
        raise ConfigError(f"--review-date {request.review_date} is not in the future")
    if request.review_date > _years_after(today, MAX_YEARS):
        raise ConfigError(f"--review-date {request.review_date} is more than {MAX_YEARS} years "
                          "ahead: consent must be reviewed at least that often")
    doc_name = doc_sha = None
    if request.document is not None:
        try:
            doc_sha = hashlib.sha256(request.document.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(
                f"{request.document}: cannot read the consent file ({exc.strerror or exc})") from exc
        doc_name = request.document.name
    return CheckedConsent(request.method, note, request.review_date, doc_name, doc_sha)


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
