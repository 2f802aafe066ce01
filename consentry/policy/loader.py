"""Read a policy file and reject it at start, with the line and the reason, when it is wrong.

``tomllib`` gives no positions for values, so the loader finds the line of an offending key
itself: it locates the ``[[rule]]`` header of the rule at fault and the key inside it.

A policy file is input like any other: its size, its number of rules and its nesting are
bounded, so a hostile or broken file is refused at once with a clear error, never a
RecursionError or minutes of checking (docs/security.md).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from consentry.errors import ConfigError
from consentry.policy.cascade import LIKENESS, Gate, static_cycle
from consentry.policy.conditions import CONDITIONS
from consentry.policy.spec import ACTIONS, PRIORITIES, Clause, Condition, PolicySpec, Rule

DEFAULT_NAME = "default.toml"
FORMAT_VERSION = 1
TOP_KEYS = {"version", "name", "rule", "cascade"}
RULE_KEYS = {"id", "action", "priority", "message", "label", "when", "overrides"}
GATE_KEYS = {"signal", "when", "message"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_CASCADE_HEADER = re.compile(r"^\s*\[\[\s*cascade\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[\[\s*[A-Za-z_][\w.-]*\s*\]\]")  # [[rule]], [[cascade]]
SHIPPED = ("default", "cascade")  # policies inside the package: `--policy cascade`
# A real policy is a few kilobytes and tens of rules; these leave ample room.
MAX_POLICY_CHARS = 1024 * 1024
MAX_RULES = 1000
MAX_NESTING = 32  # brackets and braces open at once; tomllib recurses (slowly) on each
MAX_LISTED = 50  # problems spelled out in the error; the count says how many in all
MAX_ANY_DEPTH = 4  # 'any' inside 'any' ... (the checker's own limit, before recursing)


class PolicyError(ConfigError):
    """A policy file that cannot be used; the message lists every problem with its line."""


def default_text(name: str = "default") -> str:
    return resources.files("consentry.policy").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load_default() -> PolicySpec:
    return parse(default_text(), source="builtin:default")


def load_file(path: Path) -> PolicySpec:
    """The policy in ``path``; a bare shipped name (``cascade``) that is not a file here is the
    policy of that name shipped with Consentry."""
    if str(path) in SHIPPED and not path.exists():
        return parse(default_text(str(path)), source=f"builtin:{path}")
    try:
        if path.stat().st_size > 4 * MAX_POLICY_CHARS:  # UTF-8: at most 4 bytes a character
            raise PolicyError(f"policy file {path} is over {MAX_POLICY_CHARS:,} characters")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    return parse(text, source=str(path))


def load(path: Path | None) -> PolicySpec:
    return load_default() if path is None else load_file(path)


def parse(text: str, *, source: str) -> PolicySpec:
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(f"{source}: policy rejected: {len(text):,} characters, over the limit "
                          f"of {MAX_POLICY_CHARS:,}")
    if (depth := nesting_depth(text)) > MAX_NESTING:
        raise PolicyError(f"{source}: policy rejected: arrays or tables nested {depth:,} deep, "
                          f"over the limit of {MAX_NESTING} (a policy needs a few levels at most)")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise PolicyError(f"{source}: policy rejected: arrays or tables nested too deeply "
                          "(a policy needs a few levels at most)") from None
    checker = _Checker(text, source)
    spec = checker.check(doc)
    if checker.errors:
        listed = "\n  ".join(checker.errors[:MAX_LISTED])
        if len(checker.errors) > MAX_LISTED:
            listed += f"\n  ... and {len(checker.errors) - MAX_LISTED} more"
        raise PolicyError(f"{source}: policy rejected ({len(checker.errors)} problem(s)):\n  {listed}")
    assert spec is not None
    return spec


def nesting_depth(text: str) -> int:
    """The most ``[`` and ``{`` open at once outside strings and comments, in one pass: deep
    nesting is refused before tomllib, which recurses once per level and takes minutes over
    a megabyte of it."""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif char in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else char
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if (text[i] == "\\" and quote[0] == '"') else 1
            i += len(quote)
            continue
        i += 1
    return deepest


def _suggest(word: str, options: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.errors: list[str] = []
        self.headers = [i for i, line in enumerate(self.lines) if _RULE_HEADER.match(line)]
        self.header_index = {line: i for i, line in enumerate(self.headers)}

    # -- locating lines --------------------------------------------------------------------
    def _rule_span(self, index: int) -> tuple[int, int]:
        if index < len(self.headers):
            start = self.headers[index]
            # up to the next [[rule]] or [[cascade]] (a [rule.when] table belongs to its rule)
            end = next((i for i in range(start + 1, len(self.lines))
                        if _ANY_HEADER.match(self.lines[i])), len(self.lines))
            return start, end
        return 0, len(self.lines)  # rules written as an inline array: search the whole file

    def line_of(self, key: str | None, rule_index: int | None = None) -> int:
        if rule_index is None:
            start, end = 0, self.headers[0] if self.headers else len(self.lines)
        else:
            start, end = self._rule_span(rule_index)
        if key is not None:
            pattern = re.compile(rf"(^|[\s{{,.\"']){re.escape(key)}[\"']?\s*=")
            for i in range(start, end):
                if pattern.search(self.lines[i].split("#", 1)[0]):
                    return i + 1
        return start + 1

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"line {line}: {message}")

    # -- checking --------------------------------------------------------------------------
    def check(self, doc: dict[str, Any]) -> PolicySpec | None:
        for key in doc:
            if key not in TOP_KEYS:
                self.error(self.line_of(key), f"unknown top-level key {key!r}{_suggest(key, TOP_KEYS)};"
                           f" allowed: {sorted(TOP_KEYS)}")
        version = doc.get("version")
        if version != FORMAT_VERSION:
            self.error(self.line_of("version"),
                       f"'version = {FORMAT_VERSION}' is required (this format's version), got {version!r}")
        name = doc.get("name", self.source.removeprefix("builtin:") if self.source.startswith(
            "builtin:") else Path(self.source).stem)
        if not isinstance(name, str) or not name:
            self.error(self.line_of("name"), "name must be a non-empty string")
            name = "policy"
        raw_rules = doc.get("rule")
        if not isinstance(raw_rules, list) or not raw_rules:
            self.error(self.line_of("rule"), "a policy needs at least one [[rule]]")
            return None
        if len(raw_rules) > MAX_RULES:
            self.error(self.line_of("rule"), f"{len(raw_rules):,} rules, over the limit of "
                       f"{MAX_RULES:,} (a policy needs tens)")
            return None
        rules = [r for i, raw in enumerate(raw_rules) if (r := self.rule(i, raw)) is not None]
        self.cross_check(rules)
        gates = self.cascade(doc.get("cascade", []))
        return PolicySpec(name=name, source=self.source, digest=self.digest, rules=tuple(rules),
                          gates=tuple(gates))

    def cascade(self, raw_gates: Any) -> list[Gate]:
        """``[[cascade]]`` tables: which signal, when it runs, and what a reviewer reads."""
        from consentry.signals import catalog

        if not isinstance(raw_gates, list) or not all(isinstance(g, dict) for g in raw_gates):
            self.error(self.line_of("cascade"), "cascade must be [[cascade]] tables")
            return []
        rule_headers = self.headers
        self.headers = [i for i, line in enumerate(self.lines) if _CASCADE_HEADER.match(line)]
        gated = [*catalog.SIGNALS, LIKENESS]
        gates: list[Gate] = []
        seen: dict[str, int] = {}
        try:
            for index, raw in enumerate(raw_gates):
                where = self.line_of(None, index)
                signal = raw.get("signal")
                label = f"cascade of {signal!r}" if isinstance(signal, str) else f"cascade #{index + 1}"
                n_errors = len(self.errors)
                for key in raw:
                    if key not in GATE_KEYS:
                        self.error(self.line_of(key, index), f"{label}: unknown key {key!r}"
                                   f"{_suggest(key, GATE_KEYS)}; allowed: {sorted(GATE_KEYS)}")
                if signal not in gated:
                    self.error(self.line_of("signal", index), f"{label}: 'signal' must name a "
                               f"signal or {LIKENESS!r}{_suggest(str(signal), gated)}; known: {gated}")
                elif signal in seen:
                    self.error(where, f"{label}: {signal!r} is gated twice (first on line "
                               f"{seen[signal]}); put the conditions in one 'when'")
                message = raw.get("message")
                if not isinstance(message, str) or not message.strip():
                    self.error(self.line_of("message", index), f"{label}: 'message' (why the "
                               "signal may be skipped, for the verdict) is required")
                when = raw.get("when")
                clause = None
                if not isinstance(when, dict) or not when:
                    self.error(self.line_of("when", index), f"{label}: 'when' (the conditions "
                               "under which the signal runs) is required")
                else:
                    clause = self.clause(when, index, label, depth=0)
                if clause is not None:
                    matchers = sorted(s for s in clause.signals() if s not in catalog.SIGNALS)
                    if matchers:
                        self.error(self.line_of("when", index), f"{label}: a gate reads signals "
                                   f"only, not {', '.join(matchers)} (matchers run after analysis)")
                    if signal in clause.signals():
                        self.error(self.line_of("when", index),
                                   f"{label}: a gate cannot read the signal it gates")
                if len(self.errors) > n_errors or clause is None:
                    continue
                seen[signal] = where
                gates.append(Gate(signal, clause, message.strip(), where))
        finally:
            self.headers = rule_headers
        requires = {n: catalog.signal_class(n).requires for n in catalog.SIGNALS}
        if gates and (cycle := static_cycle(gates, requires)) is not None:
            self.error(gates[0].line, f"cascade: signals would wait on each other ({cycle})")
        return gates

    def rule(self, index: int, raw: Any) -> Rule | None:
        where = self.line_of(None, index)
        if not isinstance(raw, dict):
            self.error(where, "each rule must be a table")
            return None
        n_errors = len(self.errors)
        rule_id = raw.get("id")
        label = f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rule #{index + 1}"
        for key in raw:
            if key not in RULE_KEYS:
                self.error(self.line_of(key, index), f"{label}: unknown key {key!r}"
                           f"{_suggest(key, RULE_KEYS)}; allowed: {sorted(RULE_KEYS)}")
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            self.error(self.line_of("id", index),
                       f"{label}: 'id' must be lowercase letters, digits, '-' or '_' (got {rule_id!r})")
        action = raw.get("action")
        if action not in ACTIONS:
            self.error(self.line_of("action", index), f"{label}: action must be one of "
                       f"{list(ACTIONS)}, got {action!r}{_suggest(str(action), ACTIONS)}")
        priority = raw.get("priority")
        if action == "review":
            priority = "normal" if priority is None else priority
            if priority not in PRIORITIES:
                self.error(self.line_of("priority", index),
                           f"{label}: priority must be one of {list(PRIORITIES)}, got {priority!r}")
        elif priority is not None:
            self.error(self.line_of("priority", index),
                       f"{label}: priority applies only to action 'review', not {action!r}")
        message = raw.get("message")
        if not isinstance(message, str) or not message.strip():
            self.error(self.line_of("message", index),
                       f"{label}: 'message' (the reason a reviewer reads) is required")
        tag = raw.get("label")
        if tag is not None and (not isinstance(tag, str) or not _ID.match(tag)):
            self.error(self.line_of("label", index),
                       f"{label}: label must be a short lowercase name, got {tag!r}")
        if action == "label" and tag is None:
            self.error(where, f"{label}: action 'label' needs a 'label' (the label to apply)")
        overrides = raw.get("overrides", [])
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            self.error(self.line_of("overrides", index), f"{label}: overrides must be a list of rule ids")
            overrides = []
        when = raw.get("when")
        clause = None
        if not isinstance(when, dict) or not when:
            self.error(self.line_of("when", index), f"{label}: 'when' (the conditions) is required")
        else:
            clause = self.clause(when, index, label, depth=0)
        if len(self.errors) > n_errors or clause is None:
            return None
        return Rule(id=rule_id, action=action, message=message.strip(), when=clause,
                    priority=priority, label=tag, overrides=tuple(overrides), line=where)

    def clause(self, raw: dict[str, Any], index: int, label: str, depth: int) -> Clause | None:
        conditions: list[Condition] = []
        any_of: list[Clause] = []
        ok = True
        for key, value in raw.items():
            line = self.line_of(key, index)
            if key == "any":
                if depth > MAX_ANY_DEPTH - 1:
                    self.error(line, f"{label}: 'any' nested too deeply")
                    ok = False
                    continue
                if not isinstance(value, list) or not value or not all(isinstance(v, dict) and v
                                                                       for v in value):
                    self.error(line, f"{label}: 'any' must be a non-empty list of condition tables")
                    ok = False
                    continue
                for sub in value:
                    parsed = self.clause(sub, index, label, depth + 1)
                    ok = ok and parsed is not None
                    if parsed is not None:
                        any_of.append(parsed)
                continue
            ctype = CONDITIONS.get(key)
            if ctype is None:
                self.error(line, f"{label}: unknown signal condition {key!r}"
                           f"{_suggest(key, [*CONDITIONS, 'any'])}; known: {sorted(CONDITIONS)}")
                ok = False
                continue
            problem = ctype.validate(value)
            if problem:
                self.error(line, f"{label}: {key} {problem}")
                ok = False
                continue
            conditions.append(Condition(key, value))
        return Clause(tuple(conditions), tuple(any_of)) if ok else None

    def cross_check(self, rules: list[Rule]) -> None:
        seen: dict[str, Rule] = {}
        for rule in rules:
            if rule.id in seen:
                self.error(rule.line, f"rule id {rule.id!r} is used twice (first on line "
                           f"{seen[rule.id].line})")
            seen[rule.id] = rule
        for rule in rules:
            index = self.header_index.get(rule.line - 1)
            line = self.line_of("overrides", index) if index is not None else rule.line
            for target in rule.overrides:
                if target not in seen:
                    self.error(line, f"rule {rule.id!r} overrides unknown rule "
                               f"{target!r}{_suggest(target, set(seen))}")
                elif target == rule.id:
                    self.error(line, f"rule {rule.id!r} overrides itself")
