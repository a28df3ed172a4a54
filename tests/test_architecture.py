"""The shape of the package (docs/architecture.md): no import cycle, folders that import only the folders below
them, a small root, lazy imports only where they keep a heavy library out, and small modules.

Imports are read from the source: every ``import`` statement, those inside functions and under
``if TYPE_CHECKING:`` included, so a lazy import or a type-only import that climbs back into a caller counts as the
cycle it is.
"""
import ast
import graphlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnaslib"
MAX_LINES = 420  # "no module over ~400 lines"
MAX_ROOT_MODULES = 10  # "at most about ten modules at the root"
# The root's modules: the vocabulary every folder shares, and the entry points above everything.
VOCABULARY = {"errors", "labels", "paper", "quiet", "registry", "reward", "seeds"}
ENTRY = {"__init__", "reproduce", "cli"}
# What each layer may import besides itself (docs/architecture.md, "Who may import whom").
BELOW = {
    "vocabulary": set(),
    "spaces": {"vocabulary"},
    "latency": {"vocabulary", "spaces"},
    "evaluation": {"vocabulary", "spaces"},
    "strategies": {"vocabulary"},
    "tabular": {"vocabulary", "spaces", "latency", "evaluation"},
    "search": {"vocabulary", "spaces", "latency", "evaluation", "strategies", "tabular"},
    "report": {"vocabulary", "spaces", "latency", "evaluation", "strategies", "tabular", "search"},
    "entry": {"vocabulary", "spaces", "latency", "evaluation", "strategies", "tabular", "search", "report"},
}
# Libraries slow enough to import that a module may defer them to the function that needs them.
HEAVY = {"tensorflow", "keras", "tensorflow_datasets", "matplotlib", "seaborn", "sklearn", "scipy", "distributed",
         "dask", "optuna", "tensorboard", "ipywidgets", "IPython", "papermill", "nbformat", "pandas", "torch"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _targets(node: ast.AST) -> list[str]:
    """The mnaslib modules one import statement names (``from a import b`` names ``a.b`` where that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("mnaslib")]
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnaslib"):
        return [f"{node.module}.{a.name}" if _exists(f"{node.module}.{a.name}") else node.module for a in node.names]
    return []


def _imports(tree: ast.AST) -> set[str]:
    """Every mnaslib module a module imports: at the top, inside functions, and under ``if TYPE_CHECKING``."""
    return {target for node in ast.walk(tree) for target in _targets(node)}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        graph[name] = {m for m in _imports(ast.parse(path.read_text())) if m != name}
    return graph


def _layer(module: str) -> str:
    """``spaces``, ``search`` ... for a module in a folder; ``vocabulary`` or ``entry`` for the root's."""
    part = module.split(".")[1] if "." in module else "__init__"
    if part in ENTRY:
        return "entry"
    if part in VOCABULARY:
        return "vocabulary"
    if part in BELOW:
        return part
    raise AssertionError(f"{module} is in no layer: put it in a folder, or name it in VOCABULARY or ENTRY "
                         "(docs/architecture.md)")


def _climbs(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if _layer(b) != _layer(a) and _layer(b) not in BELOW[_layer(a)])


def test_the_package_has_no_import_cycle():
    graph = _graph()
    assert len(graph) > 40 and "mnaslib.search.loop" in graph["mnaslib.search.wiring"]  # the reader finds edges
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_a_cycle_is_detected_by_the_same_reader():
    """The check itself can fail: a lazy import back into the caller, or a type-only one, is an edge like any
    other."""
    lazy = ast.parse("def f():\n    from mnaslib.search.loop import run_search\n")
    typed = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mnaslib.spaces.arch import Arch\n")
    for tree, back in ((lazy, "mnaslib.search.loop"), (typed, "mnaslib.spaces.arch")):
        graph = {back: {"mnaslib.x"}, "mnaslib.x": _imports(tree)}
        with pytest.raises(graphlib.CycleError):
            list(graphlib.TopologicalSorter(graph).static_order())


def test_folders_import_only_the_folders_below_them():
    """spaces never imports search or report, a strategy knows no network, nothing imports report but the entry
    points: the layers of docs/architecture.md."""
    assert _climbs(_graph()) == []


def test_a_climb_is_detected():
    graph = {"mnaslib.spaces.arch": {"mnaslib.search.store", "mnaslib.labels"},
             "mnaslib.search.store": {"mnaslib.report.runs"}, "mnaslib.report.runs": {"mnaslib.search.store"}}
    assert _climbs(graph) == ["mnaslib.search.store -> mnaslib.report.runs",
                              "mnaslib.spaces.arch -> mnaslib.search.store"]
    with pytest.raises(AssertionError, match="in no layer"):
        _layer("mnaslib.helpers")


def test_the_root_holds_about_ten_modules():
    root = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(root) <= MAX_ROOT_MODULES, f"{len(root)} modules at the root: {root}; give the new ones a folder"
    assert set(root) <= VOCABULARY | ENTRY, f"not in a layer: {sorted(set(root) - VOCABULARY - ENTRY)}"


def _loaded_at_import(tree: ast.Module) -> tuple[set[str], set[str]]:
    """What importing a module always loads: its unconditional top-level imports, mnaslib's and other libraries'."""
    mnaslib, libraries = set(), set()
    for node in tree.body:
        mnaslib.update(_targets(node))
        if isinstance(node, ast.Import):
            libraries.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            libraries.add(node.module.split(".")[0])
    return mnaslib, libraries & HEAVY


def _heavy_closures() -> dict[str, set[str]]:
    """For every module, the heavy libraries importing it loads (through its package's and its imports' too)."""
    direct = {_module_name(p): _loaded_at_import(ast.parse(p.read_text())) for p in PACKAGE.rglob("*.py")}

    def closure(module: str) -> set[str]:
        seen, stack, heavy = set(), [module], set()
        while stack:
            name = stack.pop()
            parts = name.split(".")
            for parent in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if parent in direct and parent not in seen:
                    seen.add(parent)
                    stack.extend(direct[parent][0])
                    heavy |= direct[parent][1]
        return heavy

    return {name: closure(name) for name in direct}


def test_a_function_local_import_keeps_a_heavy_library_out_and_says_so():
    """An import inside a function is there only to keep TensorFlow (or another heavy library) out of a light
    module's import: what it imports must load one its module does not, and a comment on its line says so."""
    heavy = _heavy_closures()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name, lines = _module_name(path), path.read_text().split("\n")
        tree = ast.parse("\n".join(lines))
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(function):
                targets = _targets(node)
                if not targets:
                    continue
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                if not set().union(*(heavy[t] for t in targets)) - heavy[name]:
                    wrong.append(f"{where}: loads nothing heavy its module lacks; import it at the top")
                elif not re.search(r"#(?!\s*noqa)", lines[node.lineno - 1]):
                    wrong.append(f"{where}: say what it keeps out in a comment on its line")
    assert wrong == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by concept"
