"""The evidence report's content, once, for both formats: a title and a list of sections, each
made of key-value rows, tables and paragraphs of plain text (the PDF and HTML writers escape
it; nothing here is markup). Hash values are marked ``mono`` so both lay them out whole."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consentry.actions.evidence.gather import ChainRow, ItemEvidence
from consentry.names import terminal_text
from consentry.signals.conditions import score_vs_threshold


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    mono: bool = False


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    mono: tuple[int, ...] = ()  # columns holding hashes
    widths: tuple[float, ...] = ()  # fractions of the page's width (default: equal)


@dataclass(frozen=True)
class AuditBlock:
    """One audit row: a heading line and its chain values."""

    heading: str
    details: str
    hashes: list[Field]


@dataclass
class Section:
    title: str
    fields: list[Field] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    audit: list[AuditBlock] = field(default_factory=list)
    note: str = ""  # a caveat under the section, in small type


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    thumbnail_jpeg: bytes | None = None


def text(value: Any) -> str:
    """Any value as one safe line of text: control characters and bidi overrides escaped."""
    return terminal_text("-" if value is None or value == "" else str(value))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def vpdq_summary(frames: list[dict[str, Any]]) -> list[Field]:
    """A video's vPDQ as a few lines: the full list is in the stored JSON, pinned here by the
    SHA-256 of its canonical form (``consentry scans show SCAN --json``)."""
    hashes = [str(f.get("hash")) for f in frames]
    qualities = [float(f.get("quality") or 0) for f in frames]
    times = [float(f.get("timestamp") or 0) for f in frames]
    return [
        Field("vPDQ frames", f"{len(frames)} hashed, {len(set(hashes))} distinct"),
        Field("vPDQ time span", f"{min(times):.3f} s to {max(times):.3f} s" if times else "-"),
        Field("vPDQ mean quality", f"{sum(qualities) / len(qualities):.1f}" if qualities else "-"),
        Field("vPDQ first frame", hashes[0] if hashes else "-", mono=True),
        Field("vPDQ list SHA-256", hashlib.sha256(canonical(frames).encode()).hexdigest(), mono=True),
    ]


def _media(r: dict[str, Any]) -> Section:
    media = r.get("media") or {}
    rows = [Field("Kind", text(r.get("kind"))), Field("Read", text(r.get("status"))),
            Field("Size", f"{r['size']:,} bytes" if isinstance(r.get("size"), int) else "-")]
    if media:
        shape = f"{media.get('width')} x {media.get('height')} px"
        rows.append(Field("Format", text(f"{media.get('container')} / {media.get('codec')}, {shape}")))
        if media.get("duration"):
            rows.append(Field("Duration", f"{float(media['duration']):.2f} s, {media.get('frame_count')} "
                              f"frames at {media.get('fps')} fps"))
    rows += [Field("MD5", text(r.get("md5")), mono=True), Field("SHA-256", text(r.get("sha256")), mono=True)]
    pdq = r.get("pdq")
    if isinstance(pdq, dict):
        rows += [Field("PDQ", text(pdq.get("hash")), mono=True),
                 Field("PDQ quality", text(pdq.get("quality")))]
    if isinstance(r.get("vpdq"), list) and r["vpdq"]:
        rows += vpdq_summary(r["vpdq"])
    if r.get("error"):
        rows.append(Field("Read error", text(f"{r.get('error_code')}: {r['error']}")))
    return Section("The media, by its hashes", rows,
                   note="The media itself is not in this report. MD5 and SHA-256 identify the exact "
                        "file; PDQ (images) and vPDQ (video frames) also find visually similar copies.")


def _source(ev: ItemEvidence) -> Section:
    r = ev.result
    rows = [Field("Item", f"#{ev.item_id}"), Field("Came from", ev.source)]
    if ev.source == "scan":
        rows.append(Field("Path", text(r.get("path"))))
        if r.get("path_bytes"):
            rows.append(Field("Path bytes (base64)", text(r["path_bytes"]), mono=True))
    if ev.external_id:
        rows.append(Field("Uploader's id", text(ev.external_id)))
    rows += [Field("Scan", f"#{ev.scan_id}, started {when(ev.scan_started)}, ended {when(ev.scan_finished)}"
                   if ev.scan_id is not None else "-")]
    if ev.uploaded_at:
        rows.append(Field("Uploaded", when(ev.uploaded_at)))
    rows += [Field("Analysed and stored", when(ev.stored_at)), Field("Verdict reached", when(ev.verdict_at))]
    return Section("Source and times", rows)


def _finding(name: str, r: dict[str, Any]) -> str:
    if name == "hash":
        kinds = [k for k in ("md5", "sha256", "pdq") if r.get(k)] + (["vpdq"] if r.get("vpdq") else [])
        return "hashes: " + ", ".join(kinds)
    if name == "faces":
        faces = r.get("faces")
        return f"{len(faces)} face track(s)" if isinstance(faces, list) else "-"
    if name == "manipulation":
        m = r.get("manipulation") or {}
        if m.get("score") is None:
            return "no face scored"
        shown, op, limit = score_vs_threshold(float(m["score"]), float(m.get("threshold", 0.5)))
        return f"score {shown} {op} threshold {limit}" + (" (flagged)" if m.get("flagged") else "")
    if name == "sexual":
        s = r.get("sexual") or {}
        return f"score {float(s.get('score') or 0):.2f}" if isinstance(s, dict) else "-"
    if name == "provenance":
        p = r.get("provenance")
        parts = p.values() if isinstance(p, dict) else ()
        ai = any(isinstance(v, dict) and v.get("ai_generated") for v in parts)
        return "declares AI generation" if ai else "read; no AI declaration"
    if name == "likeness":
        return "compared with the likeness registry (matches not listed in this report)"
    return "ran"


def _signals(ev: ItemEvidence) -> Section:
    r = ev.result
    versions = r.get("signal_versions") or {}
    rows = [(text(name), text(version), text(_finding(name, r)))
            for name, version in sorted(versions.items())]
    for name, reason in sorted((r.get("signal_errors") or {}).items()):
        rows.append((text(name), "failed", text(reason)))
    section = Section("Signals and their versions", tables=[Table(("signal", "version", "finding"), rows,
                                                                         widths=(0.2, 0.14, 0.66))])
    if not rows:
        section.paragraphs.append("No signal versions were stored with this item.")
    if ev.likeness_rows:
        section.note = (f"{ev.likeness_rows} likeness-registry match row(s) concern this item: they name "
                        "enrolled people and are left out here; senior reviewers see them in the review UI.")
    return section


def _matches(r: dict[str, Any]) -> Section:
    rows = []
    for m in r.get("matches") or []:
        distance = text(m.get("distance"))
        if m.get("query_match_pct") is not None:
            distance += f" ({m['query_match_pct']}% of frames)"
        rows.append((text(m.get("bank")), text(m.get("kind")), text(m.get("signal")), distance,
                     text(m.get("entry_id")), text(m.get("case_id"))))
    section = Section("Hash bank matches")
    if rows:
        section.tables.append(Table(("bank", "kind", "signal", "distance", "entry", "entry's case"), rows,
                                    widths=(0.22, 0.12, 0.1, 0.2, 0.1, 0.26)))
    else:
        section.paragraphs.append("No hash bank matched this item when it was analysed.")
    return section


def _decision(ev: ItemEvidence) -> Section:
    verdict = ev.result.get("verdict") or {}
    action = text(verdict.get("action"))
    if verdict.get("priority"):
        action += f" ({verdict['priority']} priority)"
    rows = [Field("Policy verdict", action), Field("Policy", text(ev.policy)),
            Field("Review state", text(ev.review_state or "not in review"))]
    final = next((d for d in reversed(ev.decisions) if d["decision"] != "appeal"), None)
    if final is not None:
        rows += [Field("Decision", text(final["decision"])),
                 Field("Reviewer", text(f"{final['actor']} ({final['role']})")),
                 Field("Decided", when(final["at"]))]
    section = Section("Verdict, decision and reviewer", rows)
    section.paragraphs += [text(f"{r.get('code')}: {r.get('message')}") for r in verdict.get("reasons") or []]
    if ev.decisions:
        section.tables.append(Table(
            ("when", "decision", "by", "bank", "label", "note"),
            [(when(d["at"]), text(d["decision"]), text(f"{d['actor']} ({d['role']})"), text(d["bank"]),
              text(d["label"]), text(d["note"])) for d in ev.decisions],
            widths=(0.15, 0.12, 0.17, 0.17, 0.09, 0.3)))
    return section


def _audit_block(row: ChainRow) -> AuditBlock:
    details = ("details withheld (they name enrolled people)" if row.details is None
               else canonical(row.details))
    return AuditBlock(
        heading=text(f"row {row.entry_id} · {row.at} · {row.action} · {row.subject} · by {row.actor}"),
        details=text(details),
        hashes=[Field("row hash", text(row.row_hash), mono=True),
                Field("previous row", text(row.prev_hash), mono=True),
                Field("content digest", text(row.content_digest), mono=True)])


def check_steps(ev: ItemEvidence) -> list[str]:
    """How a third party checks this report against the live audit log."""
    first = ev.audit_rows[0].entry_id if ev.audit_rows else ev.head.entry_id
    span = max(1, ev.head.entry_id - first + 1)
    return [
        "Ask the service's operator to run `consentry audit verify` on the live log: it must say "
        "\"audit chain intact\" (exit status 0). If it names a bad row, the log was changed there.",
        f"Ask for `consentry audit list --json --after {first - 1} --limit {span}` (rows {first} to "
        f"{ev.head.entry_id}): each row listed here must appear with the same \"hash\", and row "
        f"{ev.head.entry_id} with the head row hash below.",
        "If the head row's hash matches in a log that verifies, nothing in the log up to it (every row "
        "listed here included) has changed since this report was made: each row hash covers the one before.",
        "Without the service: a row's content digest is the SHA-256 of the canonical JSON "
        "{\"details\": ..., \"subject\": ...}; its row hash is the SHA-256 of the previous row's hash, its "
        "id, time, actor, action and content digest joined by newlines (docs/evidence.md has a short "
        "script that checks every row printed here).",
        "This report's own SHA-256 is in the log too: the evidence.report row about this item made "
        "right after the head row.",
    ]


def _chain(ev: ItemEvidence) -> list[Section]:
    rows = Section("Audit rows about this item", audit=[_audit_block(r) for r in ev.audit_rows])
    if not ev.audit_rows:
        rows.paragraphs.append("No audit row concerns this item yet.")
    status = "intact" if ev.chain_ok else f"BROKEN at {ev.chain_problem}"
    head = Section("The audit chain and how to check this report", [
        Field("Head row", f"#{ev.head.entry_id} of {ev.head.rows} rows"),
        Field("Head row hash", text(ev.head.row_hash), mono=True),
        Field("Verified when made", status)])
    head.paragraphs += [f"{n}. {step}" for n, step in enumerate(check_steps(ev), 1)]
    return [rows, head]


def document(ev: ItemEvidence) -> Document:
    subtitle = (f"Made {when(ev.generated_at)} by {text(ev.generated_by)} with consentry {ev.version}. "
                "For a takedown request or a police report.")
    sections = [_decision(ev), _media(ev.result), _source(ev), _signals(ev), _matches(ev.result), *_chain(ev)]
    if ev.thumbnail_jpeg is not None:
        sections.insert(1, Section("Thumbnail", note="Included at the reviewer's request: greyscale and "
                                   "strongly blurred, enough to tell which item this is, no more."))
    return Document(f"Evidence report: item #{ev.item_id}", subtitle, sections, ev.thumbnail_jpeg)
