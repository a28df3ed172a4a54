"""The shape of the package: no import cycle anywhere in mnaslib, and small modules.

Imports are read from the source (every ``import`` statement, also those inside functions, except under
``if TYPE_CHECKING:``), so a lazy import that climbs back into a caller counts as the cycle it is.
"""
import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnaslib"
MAX_LINES = 420  # "no module over ~400 lines"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(tree: ast.AST) -> set[str]:
    """mnaslib modules a module imports at run time (anywhere but under ``if TYPE_CHECKING``)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("mnaslib"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnaslib"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _exists(sub) else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        graph[name] = {m for m in _imports(ast.parse(path.read_text())) if m != name}
    return graph


def test_the_package_has_no_import_cycle():
    graph = _graph()
    assert len(graph) > 40 and "mnaslib.search.loop" in graph["mnaslib.search.wiring"]  # the reader finds real edges
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_a_cycle_is_detected_by_the_same_reader():
    """The check itself can fail: a lazy import back into the caller is an edge like any other."""
    tree = ast.parse("def f():\n    from mnaslib.search.loop import run_search\n")
    graph = {"mnaslib.search.loop": {"mnaslib.evaluation.worker"}, "mnaslib.evaluation.worker": _imports(tree)}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter(graph).static_order())


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by concept"
