"""Documentation never rots: README's commands are what CI runs, and every ```python block in
README.md and docs/*.md runs (with sampling shortened, so the tier stays fast).

A block preceded by ``<!-- no-test -->`` is skipped (none should need it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import hiermodel as hm

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(<!-- no-test -->\s*)?```python\n(.*?)```", re.S)


def _files() -> list[tuple[str, list[str]]]:
    """Per document, its runnable blocks in order (they share one namespace, like a session)."""
    out = []
    for path in DOCS:
        blocks = [m.group(2) for m in _BLOCK.finditer(path.read_text()) if not m.group(1)]
        if blocks:
            out.append((path.name, blocks))
    return out


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_one() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "<!-- main-command -->" in quick and "<!-- test-command -->" in quick
    test_cmd = quick.split("<!-- test-command -->", 1)[1]
    test_cmd = re.search(r"```bash\n(.*?)\n```", test_cmd, re.S).group(1)  # type: ignore[union-attr]
    extracted = subprocess.run(
        ["awk", '/<!-- test-command -->/{getline; while ($0 !~ /^[a-z]/) getline; print; exit}',
         "README.md"], cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert extracted == test_cmd
    assert "constraints.txt" in test_cmd and "pytest" in test_cmd
    assert "--durations=" in test_cmd  # CI output lists the slowest tests
    assert "constraints.txt" in commands[0] and "hiermodel compare" in commands[0]


def test_docs_links_exist() -> None:
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


@pytest.mark.fit
@pytest.mark.parametrize(("where", "blocks"), _files(), ids=[f[0] for f in _files()])
def test_python_blocks_run(where: str, blocks: list[str], monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fast = {"draws": 100, "tune": 150, "chains": 1}
    real_fit = hm.fit

    def quick_fit(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.update(fast)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(hm, "fit", quick_fit)
    compare = getattr(hm, "compare", None)
    if callable(compare):
        def quick_compare(*args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.update(fast)
            return compare(*args, **kwargs)

        monkeypatch.setattr(hm, "compare", quick_compare)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc__"}
    for i, code in enumerate(blocks):
        code = code.replace("hm.datasets.maize_yield()", "hm.datasets.maize_yield(n=3000)")
        exec(compile(code, f"{where} block {i + 1}", "exec"), namespace)


@pytest.mark.slow
@pytest.mark.parametrize("script", ["sleepstudy.py", "radon.py", "maize_yield.py"])
def test_examples_run_in_fast_mode(script: str, tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / "examples" / script), "--fast"]
    if script == "maize_yield.py":
        args += ["--out", str(tmp_path / "out")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    if script == "maize_yield.py":
        # the talk's findings, on the synthetic data
        assert "hybrid below non-hybrid most credibly in Machakos" in out
        assert "the largest gap is Tharaka-Nithi" in out
        assert "Farmers with hybrid seeds have about 1." in out
        assert (tmp_path / "out").is_dir()
    else:
        assert "Fixed effects" in out
