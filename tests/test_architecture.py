"""The package's shape: one door to PyMC, a PyMC-free ``import hiermodel``, no module that
shadows a public function, modules of readable size, dependencies pointing one way."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import pytest

import hiermodel as hm

PACKAGE = Path(hm.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
HEAVY = ("pymc", "pytensor", "bambi", "nutpie")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in ``path``, at any depth (also inside
    functions and ``if TYPE_CHECKING:`` blocks)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def test_only_the_backend_imports_pymc_pytensor_bambi_or_nutpie() -> None:
    backend = PACKAGE / "backend"
    leaks = [f"{_relative(p)}:{line} imports {name}"
             for p in MODULES if backend not in p.parents
             for line, name in _imports(p) if name.split(".")[0] in HEAVY]
    assert leaks == []


def test_the_scan_sees_backend_imports() -> None:
    # the check above would pass vacuously if _imports missed nested imports
    found = {name.split(".")[0] for p in (PACKAGE / "backend").rglob("*.py")
             for _, name in _imports(p)}
    assert {"pymc", "pytensor", "bambi", "nutpie"} <= found


def test_import_hiermodel_loads_no_pymc() -> None:
    code = ("import sys, hiermodel, hiermodel.spec, hiermodel.families, hiermodel.cli; "
            "print(sorted(m for m in ('pymc', 'pytensor', 'bambi', 'nutpie', 'arviz') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", hm.__all__)
def test_no_module_shadows_a_public_function(name: str) -> None:
    obj = getattr(hm, name)
    if callable(obj) and not isinstance(obj, type):
        assert not (PACKAGE / f"{name}.py").exists() and not (PACKAGE / name).is_dir(), name


def test_public_functions_survive_importing_every_stage() -> None:
    import hiermodel.backend.sampling
    import hiermodel.comparison
    import hiermodel.models
    import hiermodel.posterior  # noqa: F401

    for name in ("fit", "model", "compare", "translate", "prior_predictive", "run_spec"):
        assert isinstance(getattr(hm, name), types.FunctionType), name


def test_modules_stay_readable() -> None:
    long = {_relative(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long


# Stages from the bottom up; a module may import (at module level) only its own stage and the
# stages below it. "base" holds what every stage may use.
LAYERS = [
    {"errors", "naming", "numbers", "console", "cluster"},
    {"formula", "families", "priors", "datasets"},
    {"data", "spec"},
    {"backend"},
    {"models"},
    {"posterior"},
    {"comparison"},
    {"runs"},
    {"report"},
    {"cli", "__main__", "__init__"},
]


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(stage: str) -> int:
    for i, names in enumerate(LAYERS):
        if stage in names:
            return i
    raise AssertionError(f"stage {stage!r} is not in LAYERS")


def _module_level_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in tree.body:  # module level only; `if TYPE_CHECKING:` blocks are type hints
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def test_dependencies_point_down() -> None:
    upward = []
    for p in MODULES:
        rel = p.relative_to(PACKAGE.parent).with_suffix("")
        here = _stage(".".join(rel.parts))
        for line, name in _module_level_imports(p):
            if name.split(".")[0] != "hiermodel" or name == "hiermodel":
                continue
            there = _stage(name)
            if _layer(there) > _layer(here):
                upward.append(f"{_relative(p)}:{line} ({here}) imports {name} ({there})")
    assert upward == []
