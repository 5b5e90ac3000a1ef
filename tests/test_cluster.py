"""Fits as Dask tasks (hiermodel.cluster): addresses, errors, pickling, and on a LocalCluster
of 2 worker processes the same draws as the serial run, with failures that lose nothing."""

from __future__ import annotations

import operator
import pickle
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.cli import EXIT_SOME_FAILED, main
from hiermodel.cluster import (
    DEFAULT_LOCAL_WORKERS,
    Task,
    TaskPool,
    first_line,
    parse_local,
    task_pool,
)
from hiermodel.errors import ClusterError, FormulaError, SomeFailedError, SpecError
from hiermodel.runs import MANIFEST, SpecRuns, load_run, run_compare, run_specs, spec_seed
from hiermodel.spec import load_spec

SPEC = """\
[data]
dataset = "sleepstudy"
{data}
[model]
formula = "{formula}"

[sampler]
chains = 2
draws = 60
tune = 60
backend = "pymc"
{seed}
"""


def write_spec(directory: Path, name: str, seed: int | None = None, data: str = "",
               formula: str = "Reaction ~ Days + (1 | Subject)") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(SPEC.format(data=data, formula=formula,
                                seed="" if seed is None else f"seed = {seed}"),
                    encoding="utf-8")
    return path


# -- pure ----------------------------------------------------------------------------------------

def test_parse_local() -> None:
    assert parse_local("local") == DEFAULT_LOCAL_WORKERS
    assert parse_local(" local:3 ") == 3
    assert parse_local("tcp://127.0.0.1:8786") is None
    assert parse_local("scheduler:8786") is None
    for bad in ("local:0", "local:two", "local:"):
        with pytest.raises(ClusterError, match="whole number >= 1"):
            parse_local(bad)


def test_first_line() -> None:
    assert first_line(SpecError("a.toml: [model] formula: bad\n  y ~\n    ^")) == \
        "a.toml: [model] formula: bad"
    assert first_line(ValueError("boom\nmore")) == "ValueError: boom"
    assert first_line(KeyError()) == "KeyError"


def test_no_client_runs_in_process() -> None:
    with task_pool(None) as pool:
        assert pool is None


def test_missing_distributed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    with pytest.raises(ClusterError, match=r"hiermodel\[dask\]"), task_pool("local:2"):
        pass


def test_bad_client_type() -> None:
    with pytest.raises(ClusterError, match="got int"), task_pool(3):
        pass


def test_spec_seed_is_the_spec_seed_or_derived_from_the_spec(tmp_path: Path) -> None:
    assert spec_seed(load_spec(write_spec(tmp_path, "a", seed=5))) == 5
    derived = spec_seed(load_spec(write_spec(tmp_path, "b")))
    assert derived == spec_seed(load_spec(write_spec(tmp_path, "b")))
    assert derived != spec_seed(load_spec(write_spec(tmp_path, "c", formula="Reaction ~ Days "
                                                                           "+ (Days | Subject)")))
    assert 0 <= derived < 2**31


def test_some_failed_error_has_exit_code_3() -> None:
    assert SomeFailedError("x").exit_code == EXIT_SOME_FAILED == 3


def test_spec_runs_reports_failures_by_spec(tmp_path: Path) -> None:
    specs = [load_spec(write_spec(tmp_path, n)) for n in ("a", "b", "c")]
    runs = SpecRuns(specs, errors={1: SpecError(f"{specs[1].label}: [model] formula: oops\n"
                                                "  detail")})
    assert runs.failures == {specs[1].label: "[model] formula: oops"}
    with pytest.raises(SomeFailedError, match=r"1 of 3 specs failed \(0 completed") as err:
        runs.raise_failures()
    assert f"{specs[1].label}: [model] formula: oops" in str(err.value)
    single = SpecRuns(specs[:1], errors={0: FormulaError("bad")})
    with pytest.raises(FormulaError):
        single.raise_failures()


@pytest.mark.builds
def test_model_pickles_by_rebuilding(sleepstudy: pd.DataFrame) -> None:
    m = hm.model("Reaction ~ Days + (Days | Subject)", sleepstudy,
                 priors=[hm.set_prior("normal(0, 5)", "b")])
    back = pickle.loads(pickle.dumps(m))
    assert back.formula == m.formula
    assert np.array_equal(back.design.X, m.design.X)
    assert back.prior_table == m.prior_table
    assert [v.name for v in back.pymc_model.free_RVs] == [v.name for v in m.pymc_model.free_RVs]


# -- on a LocalCluster ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.mark.fit
def test_shared_data_is_on_every_worker_and_failures_are_outcomes(client: Any) -> None:
    pool = TaskPool(client)
    frame = pd.DataFrame({"x": np.arange(5.0)})
    shared = pool.share(frame)
    assert len(client.who_has([shared])[shared.key]) == 2  # shipped once to each worker
    # operator.getitem: a function the worker processes can import (this test module is not)
    tasks = [Task(0, "x", operator.getitem, (shared, "x")),
             Task(1, "typo", operator.getitem, (shared, "y"))]
    messages: list[str] = []
    outcomes = {o.key: o for o in pool.run(tasks, messages.append, what="sums")}
    assert outcomes[0].ok and outcomes[0].value.sum() == 10.0
    assert not outcomes[1].ok and outcomes[1].message == "KeyError: 'y'"
    assert messages[0].startswith("2 sums sent to the Dask cluster (2 workers")
    assert any(m.startswith("2/2 sums ") for m in messages), messages
    assert any(m.startswith("1/2 sums ") for m in messages), messages
    assert any("sums FAILED: typo (after " in m and "KeyError: 'y'" in m for m in messages)


def _posterior(run: Any) -> dict[str, np.ndarray]:
    post = run.fit.idata.posterior if run.fit is not None else load_run(run.run_dir).idata.posterior
    return {str(k): np.asarray(v.values) for k, v in post.data_vars.items()}


@pytest.mark.fit
def test_specs_on_a_cluster_equal_serial_and_failures_lose_nothing(
        tmp_path: Path, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [write_spec(tmp_path, "one", seed=1),
             write_spec(tmp_path, "broken", seed=2, formula="Reaction ~ Dayz + (1 | Subject)"),
             write_spec(tmp_path, "two", seed=3),
             write_spec(tmp_path, "noseed"),
             write_spec(tmp_path, "empty", seed=4, data='filter = "Days > 100"')]
    serial = run_specs(paths, out=tmp_path / "serial")
    messages: list[str] = []
    spread = run_specs(paths, client=client, out=tmp_path / "cluster", progress=messages.append)
    good = {0: "one", 2: "two", 3: "noseed"}
    for result in (serial, spread):
        assert sorted(result.runs) == sorted(good)
        assert sorted(result.errors) == [1, 4]
        for name in good.values():
            assert (tmp_path / ("serial" if result is serial else "cluster") / name / "fit"
                    / MANIFEST).is_file()
        failures = result.failures
        assert "'Dayz'" in failures[str(paths[1])] and "\n" not in failures[str(paths[1])]
        assert "keeps none of the 180 rows" in failures[str(paths[4])]
    assert any("4/4 fits " in m for m in messages), messages  # the broken spec fails there
    assert any(f"fits FAILED: {paths[1]} (after " in m and "[model] formula: no column 'Dayz'"
               in m for m in messages), messages
    for i in good:
        a, b = _posterior(serial.runs[i]), _posterior(spread.runs[i])
        assert a.keys() == b.keys()
        for name in a:
            assert np.array_equal(a[name], b[name]), (good[i], name)
    assert not np.array_equal(_posterior(serial.runs[0])["b"], _posterior(serial.runs[2])["b"])

    # the CLI on the same cluster by its address: the good runs are reused, the broken spec
    # fails again, and the exit code says that some failed
    capsys.readouterr()
    code = main(["fit", *map(str, paths), "--out", str(tmp_path / "cluster"), "--cluster",
                 client.scheduler.address])
    captured = capsys.readouterr()
    assert code == EXIT_SOME_FAILED
    assert "2 of 5 specs failed (3 completed and written)" in captured.err
    assert f"{paths[1]}: [model] formula" in captured.err
    assert captured.out.count("== ") == 3


@pytest.mark.fit
def test_compare_on_a_cluster_equals_serial(sleepstudy: pd.DataFrame, client: Any) -> None:
    data = sleepstudy[sleepstudy["Subject"].astype(str).isin(
        sorted(sleepstudy["Subject"].astype(str).unique())[:6])].reset_index(drop=True)
    options: dict[str, Any] = {"draws": 60, "tune": 60, "chains": 2, "seed": 11,
                               "backend": "pymc", "logo": "kfold", "logo_folds": 2}
    serial = hm.compare("Reaction ~ Days + (1 | Subject)", data, **options)
    messages: list[str] = []
    spread = hm.compare("Reaction ~ Days + (1 | Subject)", data, client=client,
                        progress=messages.append, **options)
    assert any("3/3 variant fits done" in m for m in messages), messages
    assert any("leave-one-group-out: 6/6 refits done" in m for m in messages), messages
    for name, fit in serial.fits.items():
        other = spread.fits[name].idata.posterior
        for var, values in fit.idata.posterior.data_vars.items():
            assert np.array_equal(values.values, other[var].values), (name, var)
    for table in ("loo", "logo", "logo_groups", "groups"):
        pd.testing.assert_frame_equal(serial.tables[table], spread.tables[table],
                                      check_exact=True)


@pytest.mark.fit
def test_run_compare_takes_a_scheduler_address(tmp_path: Path, client: Any) -> None:
    path = tmp_path / "cmp.toml"
    path.write_text(textwrap.dedent("""\
        [data]
        dataset = "sleepstudy"
        filter = "Subject in ['308', '309', '310', '330']"

        [model]
        formula = "Reaction ~ Days + (1 | Subject)"

        [sampler]
        chains = 2
        draws = 40
        tune = 40
        backend = "pymc"

        [compare]
        logo = false
        """), encoding="utf-8")
    comparison = run_compare(path, out=tmp_path / "out", client=client.scheduler.address)
    assert set(comparison.fits) == {"pooled", "unpooled", "hierarchical"}
    assert (tmp_path / "out" / "compare" / MANIFEST).is_file()
    assert comparison.settings["seed"] == spec_seed(load_spec(path))
