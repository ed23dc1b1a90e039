"""Every module that calls TensorRT is type-checked by mypy against ``tensorrt-stubs``
(TensorRT 10.13's Python API), and the tests' stand-in tensorrt may not drift from it.

The README's test command installs ``mypy`` and ``tensorrt-stubs`` (``--no-deps``), so
these tests fail rather than skip when either is missing. The stubs need two things
before mypy can use them, both done here in a temporary folder and never in place:

- they ship no ``py.typed`` marker (mypy ignores untyped site-packages), so they are
  copied into a folder on ``MYPYPATH``;
- stubgen left a few lines that are not valid Python (a parameter named ``in``; a
  parameter without default after defaults): repaired by the exact textual fixes in
  ``STUB_REPAIRS``, each of which must still match (a new stubs release is noticed).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

ROOT = REPO
TYPED_MODULES = (  # every module that touches a TensorRT object
    "runtime/tensorrt/runner.py",
    "runtime/tensorrt/loader.py",
    "runtime/tensorrt/cuda_memory.py",
    "runtime/tensorrt/builder.py",
    "runtime/tensorrt/engine_build.py",
    "cli/sidecar.py",
    "runtime/tensorrt/timing.py",
)
STUB_REPAIRS = (  # (pattern, replacement, matches expected in tensorrt-stubs 10.13.0.35.1)
    (r"(\(self(?:: \w+)?, )in:", r"\1in_:", 4),
    (r"channel_axis: int\) -> IScaleLayer", "channel_axis: int = ...) -> IScaleLayer", 1),
)
MYPY_INI = """[mypy]
ignore_missing_imports = True
follow_imports = silent
incremental = False

[mypy-tensorrt.*]
ignore_errors = True

[mypy-tensorrt_bindings.*]
ignore_errors = True
"""


def _stub_files() -> Path:
    spec = importlib.util.find_spec("tensorrt_stubs")
    if spec is None or spec.origin is None:
        pytest.fail("tensorrt-stubs is not installed: pip install --no-deps tensorrt-stubs==10.13.0.35.1 (README's test command does)")
    site = Path(spec.origin).parents[1]
    if not (site / "tensorrt_bindings" / "tensorrt.pyi").is_file():
        pytest.fail(f"tensorrt-stubs is installed but {site}/tensorrt_bindings/tensorrt.pyi is missing")
    return site


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    """(run(shadows) -> (exit status, report), repaired stub text)."""
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: pip install mypy (README's test command does)")
    site = _stub_files()
    work = tmp_path_factory.mktemp("mypy")
    stubs = work / "stubs"
    (stubs / "tensorrt").mkdir(parents=True)
    (stubs / "tensorrt_bindings").mkdir()
    (stubs / "tensorrt" / "__init__.pyi").write_text((site / "tensorrt" / "__init__.pyi").read_text())
    (stubs / "tensorrt_bindings" / "__init__.pyi").write_text((site / "tensorrt_bindings" / "__init__.pyi").read_text())
    text = (site / "tensorrt_bindings" / "tensorrt.pyi").read_text()
    for pattern, replacement, expected in STUB_REPAIRS:
        text, count = re.subn(pattern, replacement, text)
        assert count == expected, f"stub repair {pattern!r} matched {count} times, expected {expected}: new tensorrt-stubs?"
    (stubs / "tensorrt_bindings" / "tensorrt.pyi").write_text(text)
    (work / "hsnet_deploy").symlink_to(ROOT, target_is_directory=True)  # whatever the clone's folder is called
    (work / "mypy.ini").write_text(MYPY_INI)

    def run(shadows: dict[str, str] = None) -> tuple[int, str]:
        args = [sys.executable, "-m", "mypy", "--config-file", str(work / "mypy.ini"), "--cache-dir", str(work / "cache")]
        for module, source in (shadows or {}).items():
            shadow = work / ("shadow_" + module.replace("/", "_"))
            shadow.write_text(source)
            args += ["--shadow-file", f"hsnet_deploy/{module}", str(shadow)]
        args += [f"hsnet_deploy/{m}" for m in TYPED_MODULES]
        done = subprocess.run(args, cwd=work, capture_output=True, text=True, env={"MYPYPATH": str(stubs), "PATH": ""})
        return done.returncode, done.stdout + done.stderr

    return run, text


@pytest.mark.slow
def test_tensorrt_modules_are_clean_against_the_stubs(checker):
    run, _ = checker
    status, report = run()
    assert status == 0, report


SEEDED = (  # (module, correct text, misspelt text, what mypy must say)
    ("runtime/tensorrt/runner.py", ".execute_async_v3(", ".execute_asnyc_v3(", r'"IExecutionContext" has no attribute "execute_asnyc_v3"'),
    ("runtime/tensorrt/runner.py", "live.context.set_input_shape(name, shape)", "live.context.set_input_shape(shape)", r'set_input_shape'),
    ("runtime/tensorrt/builder.py", "config.builder_optimization_level = ", "config.builder_optimisation_level = ", r'"IBuilderConfig" has no attribute "builder_optimisation_level"'),
    ("runtime/tensorrt/builder.py", "trt.Dims(list(lo)), trt.Dims(list(opt))", "list(lo), trt.Dims(list(opt))", r'Argument 2 to "set_shape" of "IOptimizationProfile" has incompatible type'),
    ("runtime/tensorrt/timing.py", "def report_layer_time(self, layer_name: str, ms: float)", "def report_layer_time(self, layer_name: str, ms: str)", r'"report_layer_time" is incompatible with supertype "tensorrt_bindings.tensorrt.IProfiler"'),
)


@pytest.mark.slow
def test_seeded_api_mistakes_are_caught(checker):
    """Each mistake a TensorRT user makes (misspelt method, missing or wrong-typed
    argument, misspelt attribute, wrong override) is reported, in one mypy run."""
    run, _ = checker
    shadows: dict[str, str] = {}
    for module, right, wrong, _ in SEEDED:
        source = shadows.get(module, (ROOT / module).read_text())
        assert right in source, f"{module} no longer contains {right!r}: update the seeded mistake"
        shadows[module] = source.replace(right, wrong)
    status, report = run(shadows)
    assert status == 1, report
    for module, _, wrong, message in SEEDED:
        assert re.search(message, report), f"{wrong!r} in {module} went unreported:\n{report}"


# ---- the stand-in may not drift from the stubs -------------------------------------------------
def _stub_api(text: str) -> dict[str, dict[str, list[str]]]:
    """Class -> member -> parameter names (without self) from the stub text; class
    attributes and properties map to []."""
    tree = ast.parse(text)
    classes: dict[str, dict[str, list[str]]] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members: dict[str, list[str]] = {}
            for item in ast.walk(node):
                if isinstance(item, ast.FunctionDef):
                    params = [a.arg for a in item.args.args[1:]]
                    members.setdefault(item.name, params)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.setdefault(item.target.id, [])
            classes[node.name] = members
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
    for name in classes:  # fold in inherited members
        stack = list(bases[name])
        while stack:
            base = stack.pop()
            for member, params in classes.get(base, {}).items():
                classes[name].setdefault(member, params)
            stack += bases.get(base, [])
    return classes


def test_standin_names_and_signatures_exist_in_the_stubs(checker, tmp_path):
    _, text = checker
    api = _stub_api(text)
    from helpers.tensorrt_standin import FakeDeviceMemory, make_fake_tensorrt

    checked = 0
    for version in ("10.13.0", "11.4.0"):
        trt = make_fake_tensorrt(FakeDeviceMemory(), version=version)
        for name, value in vars(trt).items():
            if name.startswith("_") or name == "standin_log":
                continue
            assert name in api, f"the stand-in's tensorrt.{name} is not in TensorRT's API"
            members = api[name]
            own = vars(value) if inspect.isclass(value) else vars(value) if hasattr(value, "__dict__") else {}
            for member, attribute in own.items():
                if member.startswith("_"):
                    continue
                assert member in members, f"tensorrt.{name}.{member} (stand-in) is not in TensorRT's API"
                function = attribute.fget if isinstance(attribute, property) else attribute
                if inspect.isfunction(function) and not isinstance(attribute, property):
                    params = [p for p in inspect.signature(function).parameters][1:]
                    stub = members[member]
                    assert stub[: len(params)] == params, f"tensorrt.{name}.{member}{tuple(params)} vs TensorRT's {tuple(stub)}"
                checked += 1
    assert checked > 60  # the walk really looked at the stand-in
