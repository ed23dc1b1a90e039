"""The package is layers with one direction of imports, and no two files import each other.

    0  the root's small utilities (errors, atomic_file, output_paths, ...)
    1  runtime/       torch-free: contract, processing, backends, Segmenter
    2  hsnet/         the PyTorch model, its data, training and evaluation
    3  export/        PyTorch -> ONNX passes (precision included)
    4  calibration/   what needs episodes: calibration feeds, sensitivity
    5  benchmarks/    latency; serving/  the runtime behind a Triton server
    6  cli/           the commands and apps (cli.py, __main__.py)

Every import counts, at module level or inside a function (a lazy import is still a
dependency), except those under ``if TYPE_CHECKING:``, which only annotate. A module may import its own layer and those below; a file may not be part
of an import cycle. The one way up is an explicitly lazy plugin registry: a module name
held as a string and imported with importlib (``runtime.torch.model_source``), which
this test does not follow on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

ROOT = REPO
LAYERS = {"runtime": 1, "hsnet": 2, "export": 3, "calibration": 4, "benchmarks": 5, "serving": 5, "cli": 6}
TOP_FILES = {"cli", "__main__"}  # root files that belong to the command layer
NOT_PACKAGE = {"tests", "recipes", "build", "docs", ".venv", ".ci", "tools"}


def _modules() -> dict[tuple[str, ...], Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in NOT_PACKAGE or any(part.startswith(".") for part in rel.parts):
            continue
        parts = rel.with_suffix("").parts
        found[parts[:-1] if parts[-1] == "__init__" else parts] = path
    return found


def _layer(module: tuple[str, ...]) -> int:
    if not module:
        return 0
    if len(module) == 1 and module[0] not in LAYERS:
        return LAYERS["cli"] if module[0] in TOP_FILES else 0
    return LAYERS.get(module[0], 0)


def _imports(module: tuple[str, ...], path: Path, known) -> dict[tuple[str, ...], int]:
    """module -> line of every package module this file imports (relative or hsnet_deploy.*)."""
    package = module if path.name == "__init__.py" else module[:-1]
    found = {}
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = tuple(base) + tuple(node.module.split(".") if node.module else ())
            elif node.module and node.module.split(".")[0] == "hsnet_deploy":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            targets = [target + (alias.name,) for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            targets = [tuple(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "hsnet_deploy"]
        for target in targets:
            if target in known and target != module:
                found.setdefault(target, node.lineno)
                break
    return found


def _runtime_nodes(tree):
    """Every node but those under ``if TYPE_CHECKING:`` (annotations, never executed)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None) if isinstance(child, ast.If) else None
            if test is not None and (getattr(test, "id", None) or getattr(test, "attr", None)) == "TYPE_CHECKING":
                pending.extend(child.orelse)
                continue
            pending.append(child)


def _graph():
    modules = _modules()
    return modules, {m: _imports(m, p, modules) for m, p in modules.items()}


def _name(module) -> str:
    return ".".join(module) or "hsnet_deploy"


def test_no_module_imports_a_higher_layer():
    modules, graph = _graph()
    upward = [f"{modules[m].relative_to(ROOT)}:{line} ({_name(m)}, layer {_layer(m)}) imports {_name(t)} (layer {_layer(t)})"
              for m, targets in graph.items() for t, line in targets.items() if _layer(t) > _layer(m)]
    assert not upward, "imports up the layers:\n" + "\n".join(sorted(upward))


def test_no_file_is_part_of_an_import_cycle():
    _, graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                component.append(_name(w))
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles between files: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_lazy_imports_and_package_imports(tmp_path):
    """Seeded: a lazy upward import inside a function and a cycle through __init__ are found."""
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..hsnet import model\ndef f():\n    from ..export import onnx_export\n"
    assert _layer(("runtime", "x")) < _layer(("export", "onnx_export"))
    fake = tmp_path / "x.py"
    fake.write_text(source)
    found = _imports(("runtime", "x"), fake, {("export",), ("export", "onnx_export"), ("hsnet", "model")})
    assert found == {("export", "onnx_export"): 5}
