"""The house rules, checked on the source: small modules, no import circle (every import counted: top-level,
function-level and ``TYPE_CHECKING`` ones), only the public face and the vocabulary at the top level, registries
that hold records only, and a core that names no backend and no target (the engine, the runbook and its actions
reach them only through their registries)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "harness"
CORE = ("harness.engine", "harness.runbook", "harness.strategies", "harness.judge")
PARTICULAR = ("harness.backends.", "harness.targets.")  # a particular backend or target: harness.targets.image, ...
# The top level holds the public face and the vocabulary only; everything else lives in a wing (a folder).
TOP_LEVEL = {"harness", "harness.api", "harness.errors", "harness.exit_codes", "harness.outcomes", "harness.ports",
             "harness.pytest_plugin"}
# Registries hold records: they import nothing above the spec's base types (and each other's records).
REGISTRIES = ("harness.spec.registry", "harness.targets.registry", "harness.backends.registry", "harness.strategies.registry",
              "harness.runbook.actions.registry")
BASE = {"harness.errors", "harness.spec.types", "harness.runbook.retry", *REGISTRIES}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """Modules ``module`` imports (``from a import b`` counts a.b where that is a module)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes: list[ast.AST] = []
    if top_level_only:
        for node in tree.body:
            is_type_checking = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            if not is_type_checking:
                nodes.extend(ast.walk(node))
    else:
        nodes = list(ast.walk(tree))
    if top_level_only:  # function bodies run later: only what runs at import time
        inner = {id(n) for fn in nodes if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(fn)
                 if n is not fn}
        nodes = [n for n in nodes if id(n) not in inner]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
            out.update(submodules)
            if len(submodules) < len(node.names):  # names defined in the module itself
                out.add(base)
    return {m for m in out if m.startswith("harness")}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= 400, f"{module} has {lines} lines (the house keeps modules at 400 or fewer)"


def test_the_core_names_no_particular_backend_or_target() -> None:
    offenders = {
        module: sorted(m for m in _imports(path, module, top_level_only=False) if m.startswith(PARTICULAR)
                       and not m.endswith(".registry"))
        for module, path in MODULES.items() if module.startswith(CORE)
    }
    assert {m: found for m, found in offenders.items() if found} == {}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (each one an import circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    return {module: {m for m in _imports(path, module, top_level_only) if m in MODULES and m != module}
            for module, path in MODULES.items()}


def test_no_import_cycle() -> None:
    # Explicit imports at import time (a package's __init__ run before its submodules is Python's own order).
    cycle = find_cycle(_graph(top_level_only=True))
    assert cycle is None, " -> ".join(cycle or [])


def test_no_import_circle_counting_every_import() -> None:
    """Function-level and TYPE_CHECKING imports hide a loop from the interpreter, not from a reader."""
    circles = strongly_connected(_graph(top_level_only=False))
    assert circles == [], "; ".join(" <-> ".join(c) for c in circles)


def test_only_the_public_face_and_the_vocabulary_sit_at_the_top_level() -> None:
    loose = sorted(m for m in MODULES if m.count(".") == 1 and MODULES[m].name != "__init__.py" and m not in TOP_LEVEL)
    assert loose == [], f"modules outside a wing: {loose} (the top level holds {sorted(TOP_LEVEL - {'harness'})})"
    assert len([m for m in MODULES if m.count(".") == 1 and MODULES[m].name != "__init__.py"]) <= 6
    for module in TOP_LEVEL - {"harness"}:
        assert ast.get_docstring(ast.parse(MODULES[module].read_text())), f"{module} has no docstring saying what it is for"


def test_registries_hold_records_only() -> None:
    for registry in REGISTRIES:
        above = sorted(_imports(MODULES[registry], registry, top_level_only=False) - BASE - {registry})
        assert above == [], f"{registry} imports {above}: a registry imports nothing above the spec's base types"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """Neither check is blind: a cycle is found, and an import of a particular target is seen."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert strongly_connected({"a": {"b"}, "b": {"a", "c"}, "c": set()}) == [["a", "b"]]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    path = tmp_path / "probe.py"
    path.write_text("def later() -> None:\n    from harness.targets.builtin import target\n")
    assert "harness.targets.builtin.target" in _imports(path, "harness.engine.probe", top_level_only=False)
    assert "harness.targets.builtin.target" not in _imports(path, "harness.engine.probe", top_level_only=True)
