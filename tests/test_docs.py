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
from hiermodel import comparison

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


# Documents whose blocks fit several models even when shortened (compare.md: three variants
# plus leave-one-group-out refits; lme4.md: three distributional fits): the slow tier.
HEAVY_DOCS = {"compare.md", "lme4.md"}


@pytest.mark.fit
@pytest.mark.parametrize(("where", "blocks"), [
    pytest.param(name, blocks, id=name, marks=[pytest.mark.slow] if name in HEAVY_DOCS else [])
    for name, blocks in _files()])
def test_python_blocks_run(where: str, blocks: list[str], monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fast = {"draws": 100, "tune": 150, "chains": 1}
    real_fit = hm.fit

    patched: list[str] = []  # which shortened functions the blocks called

    def quick_fit(*args, **kwargs):  # type: ignore[no-untyped-def]
        patched.append("fit")
        kwargs.update(fast)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(hm, "fit", quick_fit)
    real_compare = comparison.compare

    def quick_compare(*args, **kwargs):  # type: ignore[no-untyped-def]
        patched.append("compare")
        kwargs.update(fast, logo_folds=2)  # leave-one-group-out by 2 folds: 6 refits, not 15
        return real_compare(*args, **kwargs)

    # both spellings the docs use: hm.compare and `from hiermodel.comparison import compare`
    monkeypatch.setattr(hm, "compare", quick_compare)
    monkeypatch.setattr(comparison, "compare", quick_compare)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc__"}
    for i, code in enumerate(blocks):
        code = code.replace("hm.datasets.maize_yield()", "hm.datasets.maize_yield(n=3000)")
        exec(compile(code, f"{where} block {i + 1}", "exec"), namespace)
    source = "\n".join(blocks)
    # every sampling call went through the shortened settings (a compare() that bypassed the
    # patch ran 2 x 1000 draws and 15 refits here)
    for name in ("compare", "fit"):
        if re.search(rf"\b(hm\.)?{name}\(", source):
            assert name in patched, f"{where}: {name}() was not shortened"


# -- documented outputs ---------------------------------------------------------------------------

# a ```python block and the plain ``` block right after it: what the block prints
# ``<!-- output from ... -->`` before the python block: its output comes from a longer script
# (named there) and is not compared; the block itself still runs in test_python_blocks_run
_OUTPUT = re.compile(r"(<!-- no-test -->\s*|<!-- output from [^>]*-->\s*)?"
                     r"```python\n((?:(?!```).)*?)```\s*\n```\n(.*?)```", re.S)
_SAMPLES = re.compile(r"\b(fit|compare|kfold|loo|prior_predictive|pp_check)\(")


def _outputs() -> list[tuple[str, str, str]]:
    return [(path.name, m.group(2), m.group(3)) for path in DOCS
            for m in _OUTPUT.finditer(path.read_text()) if not m.group(1)]


def _shape(text: str) -> list[str]:
    """The text with every number replaced by '#' and runs of blanks collapsed."""
    return [" ".join(re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", line).split())
            for line in text.strip().splitlines()]


def test_documented_outputs_exist() -> None:
    assert [w for w, _, _ in _outputs()] == ["priors.md"]  # update when docs add outputs


@pytest.mark.builds
@pytest.mark.parametrize(("where", "code", "documented"), _outputs(),
                         ids=[o[0] for o in _outputs()])
def test_documented_output_is_what_the_block_prints(
        where: str, code: str, documented: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Blocks that do not sample print exactly their documented output; blocks that sample
    (random numbers) print the same lines up to the numbers."""
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{where} output block", "exec"), {"__name__": "__doc__"})
    printed = capsys.readouterr().out
    if _SAMPLES.search(code):
        assert _shape(printed) == _shape(documented)
    else:
        assert [line.rstrip() for line in printed.strip().splitlines()] == [
            line.rstrip() for line in documented.strip().splitlines()]


def test_compare_signature_in_docs_is_the_functions() -> None:
    import inspect

    text = (ROOT / "docs" / "compare.md").read_text()
    doc = re.search(r"```text\nhiermodel\.comparison\.compare\((.*?)\) -> Comparison\n```",
                    text, re.S)
    assert doc, "docs/compare.md has no signature block"
    documented = [p.strip() for p in " ".join(doc.group(1).split()).split(",")]
    actual: list[str] = []
    for p in inspect.signature(comparison.compare).parameters.values():
        if p.kind is p.KEYWORD_ONLY and "*" not in actual:
            actual.append("*")
        default = p.default
        if default is p.empty:
            actual.append(p.name)
        else:
            shown = f'"{default}"' if isinstance(default, str) else repr(default)
            actual.append(f"{p.name}={shown}")
    assert documented == actual


@pytest.mark.builds
def test_documented_prior_error_is_the_message() -> None:
    text = (ROOT / "docs" / "priors.md").read_text()
    block = re.search(r"```\n(prior override \(class='b', term='Dayz'\).*?)```", text, re.S)
    assert block, "docs/priors.md lost its error example"
    with pytest.raises(hm.PriorError) as info:
        hm.model("Reaction ~ Days + (Days | Subject)", hm.datasets.sleepstudy(),
                 priors=[hm.set_prior("normal(0, 10)", "b", "Dayz")])
    assert str(info.value) == " ".join(block.group(1).split("\n")).strip()  # "one line really"


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
