"""``[data] sql``: spec data from a DuckDB query over Parquet files or a DuckDB database.

The pure tests read data; the ``fit`` test fits a tiny model (1 chain x 40 draws) from a query,
reuses the run while the query result is unchanged and refits when the file changes.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hiermodel.errors import SpecError
from hiermodel.runs import data_hash, run_spec
from hiermodel.spec import load_spec

duckdb = pytest.importorskip("duckdb", reason="the optional extra 'sql' (DuckDB) is needed")

SPEC = """\
[data]
sql = "select y, g from 'yields/*.parquet' where season = '2019'"

[model]
formula = "y ~ 1 + (1 | g)"

[sampler]
chains = 1
draws = 40
tune = 40
seed = 5
backend = "pymc"
"""


def _frame(season: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(["a", "b", "c", "d"], 6)
    return pd.DataFrame({"y": rng.normal(0, 1, g.size) + (g == "b"), "g": g, "season": season})


def _project(tmp_path: Path, spec: str = SPEC) -> Path:
    (tmp_path / "yields").mkdir(parents=True)
    _frame("2019", 1).to_parquet(tmp_path / "yields" / "north.parquet")
    _frame("2020", 2).to_parquet(tmp_path / "yields" / "south.parquet")
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent(spec), encoding="utf-8")
    return path


def test_query_over_parquet_files_relative_to_the_spec(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(_project(tmp_path))
    monkeypatch.chdir("/")  # the query's file names are relative to the spec, not the cwd
    df = spec.load_data()
    expected = _frame("2019", 1)[["y", "g"]]
    pd.testing.assert_frame_equal(df, expected)
    assert spec.to_dict()["data"]["sql"] == \
        "select y, g from 'yields/*.parquet' where season = '2019'"
    other = load_spec(_project(tmp_path / "x", SPEC.replace("2019", "2020")))
    assert other.hash() != spec.hash()


def test_query_over_a_duckdb_database(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "farm.duckdb"))
    frame = _frame("2019", 3)
    con.register("frame", frame)
    con.execute("create table yields as select * from frame")
    con.close()
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent("""\
        [data]
        database = "farm.duckdb"
        sql = "select y, g from yields where g != 'd'"

        [model]
        formula = "y ~ 1 + (1 | g)"
        """), encoding="utf-8")
    spec = load_spec(path)
    assert spec.data.database == (tmp_path / "farm.duckdb").resolve()
    df = spec.load_data()
    assert len(df) == 18 and set(df["g"]) == {"a", "b", "c"}
    assert spec.to_dict()["data"]["database"] == "farm.duckdb"


def _error(tmp_path: Path, data: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(f"[data]\n{data}\n\n[model]\nformula = \"y ~ 1\"\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec("bad.toml").load_data()  # the cwd is tmp_path
    return str(info.value)


def test_located_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _error(tmp_path, 'sql = "select * from \'nope.parquet\'"').startswith(
        "bad.toml: [data] sql: the query failed: IOException: ")
    assert _error(tmp_path, 'sql = "select 1 as y where false"') == \
        "bad.toml: [data] sql: the query returned no rows"
    assert _error(tmp_path, 'sql = "select 1 as y"\ndataset = "sleepstudy"') == \
        "bad.toml: [data] give one of path, dataset or sql, not dataset and sql"
    assert _error(tmp_path, 'sql = "select 1 as y"\ndatabase = "x.duckdb"') == \
        f"bad.toml: [data] database 'x.duckdb' not found (looked in {tmp_path.resolve()})"
    assert _error(tmp_path, 'path = "a.csv"\ndatabase = "x.duckdb"').startswith(
        "bad.toml: [data] database 'x.duckdb' is read by a query: add sql = ")


def test_missing_duckdb_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "duckdb" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.chdir(tmp_path)
    message = _error(tmp_path, 'sql = "select 1 as y"')
    assert message == ("bad.toml: [data] sql needs DuckDB, which is not installed: install the "
                       "optional extra 'sql' (pip install 'hiermodel[sql]') or read the file "
                       "with path = \"file.parquet\"")


@pytest.mark.fit
def test_fit_reuses_the_run_while_the_query_result_is_unchanged(tmp_path: Path) -> None:
    path = _project(tmp_path)
    messages: list[str] = []
    first = run_spec(path, progress=messages.append)
    assert not first.reused and first.formula == "y ~ 1 + (1 | g)"
    assert first.manifest["data_hash"] == data_hash(_frame("2019", 1)[["y", "g"]])

    # a rewritten file with the same rows, and a change to rows the query does not select
    _frame("2019", 1).to_parquet(tmp_path / "yields" / "north.parquet")
    _frame("2020", 9).to_parquet(tmp_path / "yields" / "south.parquet")
    again = run_spec(path, progress=messages.append)
    assert again.reused
    assert f"reused run {again.run_dir} (spec and data unchanged)" in messages

    changed = _frame("2019", 1)
    changed.loc[0, "y"] += 1.0
    changed.to_parquet(tmp_path / "yields" / "north.parquet")
    refit = run_spec(path, progress=messages.append)
    assert not refit.reused
    assert refit.manifest["data_hash"] != first.manifest["data_hash"]
