"""Data loading for spec files: the ``[data]`` section turned into a DataFrame.

:func:`load_data` (what :meth:`Spec.load_data <hiermodel.spec.schema.Spec.load_data>` calls)
reads the CSV/Parquet file, runs the DuckDB query (``[data] sql``, optionally over a
``[data] database`` file; relative file names in the query are looked up in the spec's folder)
or calls the built-in dataset a spec names, converts the
``[data.types]`` columns, applies ``filter`` and adds the ``[data.derive]`` columns;
:func:`dataset_names` and :func:`dataset_params` are the built-in datasets and their arguments
(used to validate ``[data] dataset`` and ``dataset_args``).
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hiermodel.errors import HiermodelError, SpecError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from hiermodel.spec.schema import Spec

log = logging.getLogger("hiermodel.spec")

DUCKDB_MISSING = ("install the optional extra 'sql' (pip install 'hiermodel[sql]') or read "
                  "the file with path = \"file.parquet\"")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def load_data(spec: Spec) -> pd.DataFrame:
    """The data of ``spec`` as the model sees it; see
    :meth:`Spec.load_data <hiermodel.spec.schema.Spec.load_data>` for the steps."""
    df = _read(spec)
    d = spec.data
    derived = {name for name, _ in d.derive}
    raw_types = [(c, t) for c, t in d.types if c not in derived]
    for column, kind in raw_types:
        df[column] = _convert(spec, df, column, kind)
    if d.filter is not None:
        df = _filter(spec, df, d.filter)
    if d.derive:
        from hiermodel.formula import evaluate_text

        df = df.copy()
        for name, expr in d.derive:
            try:
                values = evaluate_text(expr, df)
            except HiermodelError as exc:
                raise SpecError(f"{spec.label}: [data.derive] {name} = '{expr}': "
                                f"{exc}") from exc
            df[name] = values.to_numpy()
    for column, kind in d.types:
        if column in derived:
            df[column] = _convert(spec, df, column, kind)
    return df.reset_index(drop=True)


def _read(spec: Spec) -> pd.DataFrame:
    import pandas as pd

    d = spec.data
    if d.dataset is not None:
        from hiermodel import datasets

        fn = getattr(datasets, d.dataset)
        try:
            df = fn(**dict(d.dataset_args))
        except HiermodelError as exc:
            raise SpecError(f"{spec.label}: [data] dataset_args: {exc}") from exc
        return pd.DataFrame(df)
    if d.sql is not None:
        return _query(spec, d.sql)
    assert d.path is not None
    path = d.path
    if not path.is_file():
        raise SpecError(f"{spec.label}: [data] path '{d.path_text}' not found "
                        f"(looked in {path.parent})")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            try:
                return pd.read_parquet(path)
            except ImportError as exc:
                raise SpecError(
                    f"{spec.label}: [data] path '{d.path_text}': reading Parquet needs "
                    "pyarrow; install it (pip install 'hiermodel[parquet]') or use a CSV "
                    "file") from exc
        sep = "\t" if name.endswith(".tsv") else ","
        return pd.read_csv(path, sep=sep)
    except SpecError:
        raise
    except Exception as exc:  # pandas raises many types for unreadable files
        raise SpecError(f"{spec.label}: [data] path '{d.path_text}': cannot read the file: "
                        f"{type(exc).__name__}: {exc}") from exc


def _query(spec: Spec, sql: str) -> pd.DataFrame:
    """The result of the DuckDB query ``sql``: in memory, or over the ``[data] database`` file
    (read only); relative file names in the query are looked up in the spec's folder."""
    try:
        import duckdb
    except ImportError as exc:
        raise SpecError(f"{spec.label}: [data] sql needs DuckDB, which is not installed: "
                        f"{DUCKDB_MISSING}") from exc
    d = spec.data
    where = f"{spec.label}: [data] sql"
    try:
        con = (duckdb.connect(str(d.database), read_only=True) if d.database is not None
               else duckdb.connect())
    except duckdb.Error as exc:
        raise SpecError(f"{spec.label}: [data] database '{d.database_text}': cannot open it "
                        f"with DuckDB: {exc}") from exc
    try:
        con.execute("SET file_search_path = ?", [str(spec.directory)])
        df = con.execute(sql).df()
    except duckdb.Error as exc:
        raise SpecError(f"{where}: the query failed: {type(exc).__name__}: {exc}") from exc
    finally:
        con.close()
    if len(df) == 0:
        raise SpecError(f"{where}: the query returned no rows")
    return df


def _filter(spec: Spec, df: pd.DataFrame, query: str) -> pd.DataFrame:
    try:
        out = df.query(query)
    except Exception as exc:  # SyntaxError, NameError (undefined column), TypeError, ...
        hint = ""
        name = getattr(exc, "args", [""])[0]
        m = re.search(r"name '([^']+)' is not defined", str(name))
        if m:
            hint = did_you_mean(m.group(1), [str(c) for c in df.columns])
        raise SpecError(f"{spec.label}: [data] filter '{query}' failed: "
                        f"{type(exc).__name__}: {exc}{hint}") from exc
    if len(out) == 0:
        raise SpecError(f"{spec.label}: [data] filter '{query}' keeps none of the "
                        f"{len(df)} rows")
    log.debug("%s: filter %r kept %d of %d rows", spec.label, query, len(out), len(df))
    return out


def _convert(spec: Spec, df: pd.DataFrame, column: str, kind: str) -> pd.Series:
    import numpy as np
    import pandas as pd

    where = f"{spec.label}: [data.types] {column} = '{kind}'"
    if column not in df.columns:
        cols = [str(c) for c in df.columns]
        raise SpecError(f"{where}: no column '{column}' in the data"
                        f"{did_you_mean(column, cols)}; columns: {', '.join(cols)}")
    s = df[column]
    if kind == "categorical":
        return s.astype("category")
    if kind == "numeric":
        converted = pd.to_numeric(s, errors="coerce")
        bad = s[converted.isna() & s.notna()]
        if len(bad):
            raise SpecError(f"{where}: {len(bad)} value(s) are not numbers, e.g. "
                            f"{bad.iloc[0]!r} (row {bad.index[0]})")
        return converted
    # bool
    if s.dtype == bool:
        return s

    def to_bool(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return pd.NA
        if isinstance(v, bool | np.bool_):
            return bool(v)
        key = str(v).strip().lower()
        if isinstance(v, int | float | np.integer | np.floating):
            key = "1" if v == 1 else "0" if v == 0 else key
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
        raise KeyError(v)

    try:
        values = [to_bool(v) for v in s.tolist()]
    except KeyError as exc:
        raise SpecError(f"{where}: value {exc.args[0]!r} is not a truth value (use "
                        "true/false, yes/no, 1/0)") from None
    if any(v is pd.NA for v in values):
        return pd.Series(values, index=s.index, dtype="boolean")
    return pd.Series(values, index=s.index, dtype=bool)


def dataset_names() -> list[str]:
    """Names of the built-in datasets, sorted."""
    from hiermodel.datasets import list_datasets

    return sorted(list_datasets())


def dataset_params(name: str) -> list[str]:
    """Parameter names of the built-in dataset ``name`` (its ``dataset_args``)."""
    from hiermodel import datasets

    fn: Callable[..., Any] = getattr(datasets, name)
    return [p for p in inspect.signature(fn).parameters]


__all__ = ["DUCKDB_MISSING", "dataset_names", "dataset_params", "load_data"]
