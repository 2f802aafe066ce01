"""The import graph follows the flow of data (docs/architecture.md): no module imports a stage
above its own, lazily or not. Imports only a type checker reads are left out."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "consentry"
BASE = {"types", "settings", "errors", "names", "onnxrt", "__init__", "__main__", "__version__"}
# stage -> the stages it may import (besides itself and BASE)
ALLOWED: dict[str, set[str]] = {
    "media": set(),
    "signals": {"media", "detector.scoring", "detector.geometry"},
    "detector.scoring": {"signals", "media"},  # the model's inference, read by the signal
    "detector.geometry": {"media"},
    "store": {"signals"},
    "match": {"media", "signals", "store"},
    "policy": {"signals", "match"},
    "actions": {"signals", "store", "match", "policy"},
    "pipeline": {"media", "signals", "store", "match", "policy", "actions", "detector.scoring"},
    "detector": {"media", "signals", "store", "pipeline", "detector.scoring", "detector.geometry"},
    "testing": {"media", "signals", "store", "match", "policy", "actions", "pipeline"},
    "hashpage": set(),
    "cli": {"*"},
    "service": {"*"},
}


def stage_of(module: str) -> str:
    parts = module.split(".")[1:]  # drop "consentry"
    if not parts or parts[0] in BASE:
        return "base"
    if parts[0] == "detector" and len(parts) > 1 and f"detector.{parts[1]}" in ALLOWED:
        return f"detector.{parts[1]}"
    return parts[0]


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("consentry")]
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and node.module.startswith("consentry")):
            # `from consentry.x import y` may import the module consentry.x.y
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_no_stage_imports_a_stage_above_it() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = "consentry." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        stage = stage_of(module)
        allowed = ALLOWED.get(stage, set())
        if stage == "base" or "*" in allowed:
            continue
        for line, target in _imports(ast.parse(path.read_text(encoding="utf-8")), module):
            other = stage_of(target)
            if other in ("base", stage) or other in allowed:
                continue
            if stage.startswith("detector") and other.startswith("detector"):
                continue
            wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({stage}) imports {target} ({other})")
    assert not wrong, "imports against the flow of data:\n" + "\n".join(wrong)
