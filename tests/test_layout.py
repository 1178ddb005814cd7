"""The house's layout: wings by concern, no import circle, no import from a lower wing to a higher one.

Wings, lowest first: ``tools`` (with ``fpsolve._compat`` and the package's
``__init__``), ``model``, ``theory``, ``plots``, then ``fem`` and ``mc`` side
by side (neither imports the other), ``validation``, ``cli``.  Every
package-internal import is at module level, so the graph read here is the
whole graph; third-party imports (DOLFINx, numba, matplotlib, sympy) may stay
inside functions to keep ``import fpsolve`` cheap.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fpsolve"
RANK = {"tools": 0, "_compat": 0, "__init__": 0, "model": 1, "theory": 2, "plots": 3, "fem": 4, "mc": 4,
        "validation": 5, "cli": 6}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("fpsolve",) + path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _target(dotted: str) -> str:
    """The module a dotted import name lands in (``fpsolve.fem.mesh.X`` -> ``fpsolve.fem.mesh``)."""
    while dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported fpsolve module, at module level?) of one file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("fpsolve"):
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names = ["<relative>"]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("fpsolve")]
        found += [(name if name == "<relative>" else _target(name), id(node) in top) for name in names]
    return found


def _wing(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def test_package_internal_imports_are_absolute_and_at_module_level():
    """The tools' mains (``fpsolve.cli``) are the exception: they import the FEM or Monte Carlo stack
    after checking the input, so that bad input exits 2 in a fraction of a second."""
    bad = [(m, t) for m, imports in GRAPH.items() for t, top in imports
           if t == "<relative>" or (not top and _wing(m) != "cli")]
    assert bad == []


def test_every_module_belongs_to_a_wing():
    assert {_wing(m) for m in MODULES} <= set(RANK)
    # the flat modules of the old layout are gone (no re-export shims)
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "_compat.py"]


def test_no_import_runs_up_a_wing_or_across_fem_and_mc():
    bad = []
    for module, imports in GRAPH.items():
        for target, _ in imports:
            a, b = _wing(module), _wing(target)
            if RANK[b] > RANK[a] or {a, b} == {"fem", "mc"}:
                bad.append(f"{module} -> {target}")
    assert bad == []


def test_the_import_graph_has_no_circle():
    edges = {m: sorted({t for t, _ in imports if t != m and t != "fpsolve"}) for m, imports in GRAPH.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert circles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_alone(module):
    """A circle that the static graph missed (a dynamic import) shows as an ImportError here."""
    res = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
