"""The policy's cascade: signals that run only when conditions on earlier signals hold.

A policy may say, per signal, ``when`` it is worth running (``[[cascade]]`` tables, see
docs/policy.md): faces only where the sexual-content score passes a level, manipulation only
where faces were found, and so on. The analysis stage evaluates each gate on what the signals
that ran before it found (the same conditions the rules read) and skips the signal when the
gate does not hold; the item's verdict then lists every skipped signal and why
(``skipped_signals``), so a reviewer knows what was not looked at.

A policy without a cascade runs every signal on every item, exactly as before.

Gates read signals only (never a bank or likeness match: matchers run after analysis). The
likeness matcher can itself be gated (``signal = "likeness"``): its descriptors are then not
computed, and it compares nothing, on the items its gate skips. Videos: signals share one decode
pass, so a gate on a video's signals cannot be known before they run; every signal runs on
videos, and only the likeness gate applies to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consentry.errors import ConfigError
from consentry.policy.spec import Clause

LIKENESS = "likeness"  # the one matcher a cascade can gate


@dataclass(frozen=True)
class Gate:
    """``signal`` runs only when ``when`` holds on the findings of the signals before it."""

    signal: str
    when: Clause
    message: str
    line: int = 0

    def reads(self) -> set[str]:
        return self.when.signals()

    def as_json(self) -> dict[str, Any]:
        return {"signal": self.signal, "when": self.when.as_json(), "message": self.message}


@dataclass(frozen=True)
class Cascade:
    """The gates of one policy, by the signal they gate (picklable: travels to workers)."""

    gates: tuple[Gate, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.gates)

    def gate(self, signal: str) -> Gate | None:
        return next((g for g in self.gates if g.signal == signal), None)

    def order(self, names: list[str], requires: Mapping[str, tuple[str, ...]]) -> list[str]:
        """``names`` (already in their run order) reordered so that every signal runs after
        the signals its gate reads (and still after those it ``requires``); ties keep the
        given order. Raises ConfigError when a gate reads a signal this scan does not run or
        when gates and requirements form a cycle."""
        running = set(names)
        for gate in self.gates:
            # gating a signal this scan does not run (likeness reads the faces signal's)
            if (gate.signal if gate.signal != LIKENESS else "faces") not in running:
                continue
            absent = sorted(gate.reads() - running)
            if absent:
                raise ConfigError(
                    f"policy cascade (line {gate.line}): the gate of {gate.signal!r} reads "
                    f"{', '.join(absent)}, which this scan does not run: every item would skip "
                    f"{gate.signal}. Run {', '.join(absent)} too (--signals), or use another policy.")
        before = {n: [r for r in requires.get(n, ()) if r in running] for n in names}
        for gate in self.gates:
            if gate.signal in before:
                before[gate.signal] += sorted(gate.reads() - {gate.signal})
        ordered: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in ordered:
                return
            if name in visiting:
                raise ConfigError(f"policy cascade: {name!r} would have to run before itself "
                                  "(its gate reads a signal that needs it)")
            visiting.add(name)
            for need in before[name]:
                visit(need)
            visiting.discard(name)
            ordered.append(name)

        for name in names:
            visit(name)
        return ordered

    def skip_reason(self, signal: str, findings: dict[str, Any], skipped: Mapping[str, str],
                    requires: tuple[str, ...] = ()) -> str | None:
        """Why ``signal`` is skipped on this item (None: it runs). ``findings`` are the JSON
        fields of the signals that ran before it; ``skipped`` what was skipped already."""
        for need in requires:
            if need in skipped:
                return f"needs {need}, which was skipped"
        gate = self.gate(signal)
        if gate is None:
            return None
        fired, _ = gate.when.evaluate(findings)
        if fired:
            return None
        unread = sorted(s for s in gate.reads() if s in skipped)
        details = _why_not(gate.when, findings)
        if unread:
            details = "; ".join(filter(None, [details, f"{', '.join(unread)} skipped"]))
        return f"{gate.message}: {details}" if details else gate.message


def _why_not(clause: Clause, findings: dict[str, Any]) -> str:
    """What a reviewer reads of a gate that did not hold: each condition that failed, and for
    an ``any`` every alternative (none held)."""
    parts = [o.text for c in clause.conditions if not (o := c.evaluate(findings)).fired and o.text]
    if clause.any_of and not any(sub.evaluate(findings)[0] for sub in clause.any_of):
        alternatives = [_why_not(sub, findings) for sub in clause.any_of]
        parts.append(", ".join(a for a in alternatives if a))
    return "; ".join(p for p in parts if p)


def static_cycle(gates: list[Gate], requires: Mapping[str, tuple[str, ...]]) -> str | None:
    """A cycle through gates and requirements among every known signal (None: none): such a
    policy can never run, whatever signals a scan chooses."""
    edges: dict[str, set[str]] = {name: set(needs) for name, needs in requires.items()}
    for gate in gates:
        edges.setdefault(gate.signal, set()).update(gate.reads())
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> str | None:
        if state.get(name) == 2:
            return None
        if state.get(name) == 1:
            return " -> ".join([*path[path.index(name):], name])
        state[name] = 1
        for need in sorted(edges.get(name, ())):
            if (found := visit(need, [*path, name])) is not None:
                return found
        state[name] = 2
        return None

    for name in sorted(edges):
        if (found := visit(name, [])) is not None:
            return found
    return None
