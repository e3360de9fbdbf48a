"""No import cycles between mirrorvr's modules (module-level imports; a function may import
lazily to keep heavy libraries off ``import mirrorvr``, and that is not a cycle). Within the
EMG package not even a function-local import closes a cycle: a lazy import must not hide one
(as ``emg.decoder`` <-> ``emg.model_io`` once did)."""

import ast
from pathlib import Path

import mirrorvr

ROOT = Path(mirrorvr.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str], everywhere: bool = False) -> set[str]:
    """The mirrorvr modules ``path`` imports at module level (not inside functions and not
    under ``if TYPE_CHECKING``); with ``everywhere``, every import anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in (ast.walk(tree) if everywhere else tree.body):
        if (not everywhere and isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.dump(node.test)):
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.startswith("mirrorvr"):
                found.add(name)
    return found


def _graph(everywhere: bool = False) -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(paths)
    graph = {}
    for name, path in paths.items():
        deps = _top_level_imports(path, modules, everywhere) - {name}
        # importing a package's submodule runs the package's __init__ too
        for dep in list(deps):
            parts = dep.split(".")
            deps |= {".".join(parts[:i]) for i in range(1, len(parts))} - {name}
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_mirrorvr_has_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_emg_package_has_no_cycle_even_through_function_local_imports():
    graph = _graph(everywhere=True)
    emg = {name: {d for d in deps if d.startswith("mirrorvr.emg.")}
           for name, deps in graph.items() if name.startswith("mirrorvr.emg.")}
    assert _cycles(emg) == []
    # the fitted model is saved and loaded without the streaming decoder that wraps it
    assert "mirrorvr.emg.decoder" not in graph["mirrorvr.emg.model_io"]
    assert "mirrorvr.emg.decoder" not in graph["mirrorvr.emg.model"]
    assert "mirrorvr.emg.model_io" not in graph["mirrorvr.emg.model"]


def test_everywhere_counts_function_local_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from mirrorvr.emg.decoder import Decoder\n")
    modules = {"mirrorvr.emg.decoder"}
    assert _top_level_imports(path, modules) == set()
    assert _top_level_imports(path, modules, everywhere=True) == {"mirrorvr.emg.decoder"}
