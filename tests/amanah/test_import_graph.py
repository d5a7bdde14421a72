"""The import graph of the whole project, read with `ast`: no circles, and every import points down.

The rules, as this test checks them:

- An edge is any import of a project module, wherever it stands: at module level, in a class, or
  inside a function (a circle hidden in a function is still a circle; it only fails later, at
  run time). Imports under `if TYPE_CHECKING:` never run and are not edges. `from pkg import name`
  is an edge to `pkg.name` when that is a module, else to `pkg`.
- The module graph has no cycle, and neither has the package graph (`documents <-> donations`
  would be a cycle between packages even with no cycle between their modules).
- Each package imports only the packages below it (LAYERS). In particular campaigns/ knows
  amanah/, accounts/ and the ledger's public read side, never donations/, documents/ or
  treasury/; accounts/ knows only amanah/; amanah/ (the wiring) imports no domain package: the
  app factory reaches them by name (amanah.DOMAIN_PACKAGES, importlib), which is no edge here.
- The ledger's core (LEDGER_CORE) imports only the standard library, `cryptography`, `rfc8785`
  and itself, so an auditor can run the verifier without the web app.
- Imports belong at the top of the module. Inside a function only: a package's `init_app` in
  its `__init__.py` importing the package's own modules (importing `donations.models`, as
  documents/ and treasury/ do, must not load giving's views), and the heavy libraries needed only
  on some paths (LAZY_LIBRARIES). Never to break a circle: fix the direction instead.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "amanah", "campaigns", "documents", "donations", "ledger", "maps", "opendata",
            "organizations", "reports", "treasury")
TOP_MODULES = ("wsgi",)

# Which packages each may import (besides itself). Lower packages never import higher ones.
LAYERS = {
    "amanah": set(),
    "accounts": {"amanah"},
    "ledger": {"amanah"},
    "organizations": {"amanah", "accounts"},
    "campaigns": {"amanah", "accounts", "ledger", "organizations"},
    "donations": {"amanah", "accounts", "campaigns", "ledger", "organizations"},
    "documents": {"amanah", "accounts", "campaigns", "donations", "ledger", "organizations"},
    "treasury": {"amanah", "accounts", "campaigns", "donations", "ledger", "organizations"},
    "reports": {"amanah", "accounts", "campaigns", "documents", "ledger", "organizations", "treasury"},
    "opendata": {"amanah", "accounts", "campaigns", "donations", "ledger", "organizations"},
    "maps": {"amanah", "accounts", "campaigns", "ledger", "opendata", "organizations"},
    "wsgi": {"amanah"},
}
# The ledger's public read side that campaigns may use: its read functions and their display,
# and the running-totals table (CampaignTotal) that campaign search joins to sort by progress.
CAMPAIGNS_MAY_READ_FROM_LEDGER = {"ledger.queries", "ledger.formatting", "ledger.models"}
# campaigns/ must never import these. Edges listed in KNOWN_EXCEPTIONS, as (importer, imported)
# module names, are tolerated until they are moved out; keep the list empty.
CAMPAIGNS_NEVER_IMPORT = {"donations", "documents", "treasury"}
KNOWN_EXCEPTIONS: list[tuple[str, str]] = []

LEDGER_CORE = {"ledger", "ledger.entry", "ledger.tree", "ledger.note", "ledger.verify", "ledger.tiles",
               "ledger.cosignature", "ledger.monitor", "ledger.witness"}
LEDGER_CORE_MAY_IMPORT = {"cryptography", "rfc8785"}
# Loaded only when needed, each costing from about 0.4 s (redis, rq, pypdf) to 1.5 s (weasyprint)
# and 2 s (pyhanko): PDF rendering and signing, the RQ queue when Redis is configured, checking an
# uploaded PDF, and boto3 (with botocore) when files are kept in an S3 bucket.
LAZY_LIBRARIES = {"weasyprint", "redis", "rq", "pypdf", "pyhanko", "boto3", "botocore"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    for name in TOP_MODULES:
        found[name] = ROOT / f"{name}.py"
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path, *, function_level: bool = False) -> list[tuple[str, int]]:
    """(imported module's full name, line) for every import that runs, at any depth; with
    function_level, (name, line, enclosing function) for those inside a function only."""
    is_package = path.name == "__init__.py"
    found = []
    inside = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inside.append(child.name)
                visit(child)
                inside.pop()
                continue
            if isinstance(child, ast.Import | ast.ImportFrom) and function_level and not inside:
                continue
            where = (inside[-1],) if function_level and inside else ()
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, *where) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[:len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.append((sub if sub in MODULES else target, child.lineno, *where))
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _package(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def _project_edges() -> dict[str, set[str]]:
    edges = defaultdict(set)
    for module, imported in IMPORTS.items():
        edges[module]  # every module is a node, even one that imports nothing of ours
        for target, _line in imported:
            if _package(target) in LAYERS and target != module:
                edges[module].add(target)
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return exc.args[1]
    return None


def test_the_graph_sees_every_package():
    assert {_package(m) for m in MODULES} == set(LAYERS)
    assert len(MODULES) > 80
    # Sanity: edges inside functions are seen (the package wiring imports its views there).
    assert "donations.views" in _project_edges()["donations"]


def test_no_import_cycle_between_modules():
    cycle = _cycle(_project_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_between_packages():
    graph = defaultdict(set)
    for module, targets in _project_edges().items():
        graph[_package(module)] |= {_package(t) for t in targets} - {_package(module)}
    cycle = _cycle(graph)
    assert cycle is None, "package cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def _wrong_way() -> list[str]:
    wrong = []
    for module, imported in IMPORTS.items():
        here = _package(module)
        for target, line in imported:
            there = _package(target)
            if there not in LAYERS or there == here or there in LAYERS[here]:
                continue
            wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}")
    return wrong


def test_packages_import_only_the_layers_below():
    assert _wrong_way() == []


def test_campaigns_imports_no_giving_documents_or_treasury():
    found = sorted({(module, target) for module, imported in IMPORTS.items()
                    if _package(module) == "campaigns" for target, _line in imported
                    if _package(target) in CAMPAIGNS_NEVER_IMPORT})
    assert found == sorted(KNOWN_EXCEPTIONS)


def test_campaigns_reads_only_the_ledgers_public_side():
    found = sorted({f"{module} -> {target}" for module, imported in IMPORTS.items()
                    if _package(module) == "campaigns" for target, _line in imported
                    if _package(target) == "ledger" and target not in CAMPAIGNS_MAY_READ_FROM_LEDGER})
    assert found == []


@pytest.mark.parametrize("module", sorted(LEDGER_CORE))
def test_the_ledger_core_imports_only_the_standard_library_and_its_own(module):
    allowed = set(sys.stdlib_module_names) | LEDGER_CORE_MAY_IMPORT | {"__future__"}
    bad = [f"line {line}: {target}" for target, line in IMPORTS[module]
           if target not in LEDGER_CORE and target.split(".")[0] not in allowed]
    assert bad == []


def test_the_verifier_loads_neither_flask_nor_sqlalchemy():
    code = (f"import {', '.join(sorted(LEDGER_CORE))}, sys; "
            "assert 'flask' not in sys.modules and 'sqlalchemy' not in sys.modules, "
            "sorted(m for m in ('flask', 'sqlalchemy') if m in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_imports_inside_functions_only_for_wiring_and_heavy_libraries():
    misplaced = []
    for module, path in MODULES.items():
        for target, line, function in _imports(module, path, function_level=True):
            wiring = path.name == "__init__.py" and function == "init_app" and _package(target) == module
            if not wiring and target.split(".", maxsplit=1)[0] not in LAZY_LIBRARIES:
                misplaced.append(f"{path.relative_to(ROOT)}:{line} in {function}(): {target}")
    assert misplaced == []
