"""What a reviewer reads before the rows: a triage summary (counts by verdict and reason, the
banks that matched most), the order of the rows (flagged first, most severe first), groups of
near-duplicate images, and the signals that ran on no item (said once, not on every row)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consentry.signals.hashing.pdq import distance

# Near-duplicates: PDQ within this distance, both of at least this quality (Meta's defaults).
NEAR_DUPLICATE_DISTANCE = 31
NEAR_DUPLICATE_QUALITY = 50
# Pairwise grouping is quadratic: past this many images the report leaves groups out.
MAX_GROUPED = 5000
_RANK = {"block": 0, "review": 1, "label": 3, "allow": 5}
_PRIORITY = {"high": 0, "normal": 1, "low": 2}
# The manipulation detector is weak on held-out data (docs/detector.md): say so next to any
# verdict that rests on it alone.
DETECTOR_CAVEAT = ("The manipulation detector is a weak signal (see docs/detector.md): a hint "
                   "for review, never proof on its own.")


def severity(data: dict[str, Any]) -> tuple[int, int]:
    """Sort key: block, review (high, normal, low), label, unreadable, allow."""
    verdict = data.get("verdict") or {}
    action = verdict.get("action")
    if action is None:
        return (4 if data.get("status") == "error" else 6, 0)
    return (_RANK.get(action, 6), _PRIORITY.get(verdict.get("priority") or "", 3))


@dataclass(frozen=True)
class Triage:
    order: list[int]  # row indices, flagged first
    group_of: dict[int, int]  # row index -> its near-duplicate group number (groups of 2+)
    not_run_anywhere: tuple[str, ...]  # signals missing on every decided item

    def summary_html(self, rows: Sequence[dict[str, Any]]) -> str:
        verdicts = Counter((r.get("verdict") or {}).get("action") or
                           ("unreadable" if r.get("status") == "error" else "no verdict") for r in rows)
        reasons = Counter(reason.get("code") for r in rows
                          for reason in (r.get("verdict") or {}).get("reasons") or [])
        banks = Counter(m.get("bank") for r in rows for m in r.get("matches") or [])
        parts = ["<h2>Triage</h2><table class=\"triage\"><tr><th>verdicts</th><th>reasons</th>"
                 "<th>banks matched</th></tr><tr>"]
        for counts in (verdicts, reasons, banks):
            cells = [f"{html.escape(str(k))}: {n}" for k, n in counts.most_common(10)]
            parts.append(f"<td>{'<br>'.join(cells) or 'none'}</td>")
        parts.append("</tr></table>")
        n_groups = len(set(self.group_of.values()))
        if n_groups:
            parts.append(f"<p>{n_groups} group(s) of near-duplicate images (PDQ distance ≤ "
                         f"{NEAR_DUPLICATE_DISTANCE}): their rows are kept together.</p>")
        if self.not_run_anywhere:
            parts.append("<p><small>Not run on any item: "
                         f"{html.escape(', '.join(self.not_run_anywhere))}.</small></p>")
        return "".join(parts)


def triage(rows: Sequence[dict[str, Any]]) -> Triage:
    group_of = near_duplicate_groups(rows)
    first_of_group: dict[int, int] = {}
    for index in sorted(range(len(rows)), key=lambda i: severity(rows[i])):
        first_of_group.setdefault(group_of.get(index, -1 - index), index)
    # A group sits where its most severe member would, its members together.
    order = sorted(range(len(rows)), key=lambda i: (
        severity(rows[first_of_group[group_of.get(i, -1 - i)]]), first_of_group[group_of.get(i, -1 - i)],
        severity(rows[i]), i))
    decided = [set((r.get("verdict") or {}).get("missing_signals") or []) for r in rows if r.get("verdict")]
    common = tuple(sorted(set.intersection(*decided))) if decided else ()
    return Triage(order, group_of, common)


def near_duplicate_groups(rows: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Images whose PDQ hashes are within NEAR_DUPLICATE_DISTANCE, joined transitively."""
    hashed = [(i, r["pdq"]["hash"]) for i, r in enumerate(rows)
              if (r.get("pdq") or {}).get("quality", 0) >= NEAR_DUPLICATE_QUALITY][:MAX_GROUPED]
    parent = {i: i for i, _ in hashed}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in range(len(hashed)):
        for b in range(a + 1, len(hashed)):
            if distance(hashed[a][1], hashed[b][1]) <= NEAR_DUPLICATE_DISTANCE:
                parent[root(hashed[a][0])] = root(hashed[b][0])
    members = Counter(root(i) for i, _ in hashed)
    numbers: dict[int, int] = {}
    out: dict[int, int] = {}
    for i, _ in hashed:
        if members[root(i)] > 1:
            out[i] = numbers.setdefault(root(i), len(numbers) + 1)
    return out


def rests_on_the_detector_alone(data: dict[str, Any]) -> bool:
    """Whether every reason for a flag is the manipulation detector's score."""
    verdict = data.get("verdict") or {}
    reasons = verdict.get("reasons") or []
    return (verdict.get("action") in ("block", "review", "label") and bool(reasons)
            and all(set(r.get("evidence") or {}) <= {"manipulation", "manipulation_threshold", "faces"}
                    and "manipulation" in (r.get("evidence") or {}) for r in reasons))
