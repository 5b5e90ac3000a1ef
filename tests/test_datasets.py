"""Built-in datasets: bundled reference data and the synthetic maize-yield data."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from hiermodel import datasets
from hiermodel.errors import DataError

NAMED_COUNTIES = ("Baringo", "West Pokot", "Machakos", "Tharaka-Nithi")
SEASONS = ["2019-LR", "2019-SR", "2020-LR", "2020-SR"]


# ----------------------------------------------------------------------------------- helpers


def _log_y(df: pd.DataFrame) -> pd.Series:
    return np.log(df["maize_yield"] + 0.1)


def _county_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Per county: hybrid and non-hybrid mean of log(y + 0.1), counts, and the gap."""
    g = (
        df.assign(ly=_log_y(df))
        .groupby(["county", "used_hybrid_seeds"], observed=True)["ly"]
        .agg(["mean", "size"])
        .unstack("used_hybrid_seeds")
    )
    return pd.DataFrame(
        {
            "mean_h": g[("mean", True)],
            "mean_nh": g[("mean", False)],
            "n_h": g[("size", True)],
            "n_nh": g[("size", False)],
            "gap": g[("mean", True)] - g[("mean", False)],
        }
    )


def _linear_predictor(df: pd.DataFrame) -> np.ndarray:
    """a[c] + b[c] h + season[s] + u[c, s] from the attached generating parameters."""
    gp = df.attrs["generating_parameters"]
    counties = list(df["county"].cat.categories)
    seasons = list(df["season"].cat.categories)
    a = np.array([gp["county_intercepts"][c] for c in counties])
    b = np.array([gp["county_hybrid_effects"][c] for c in counties])
    s = np.array([gp["season_effects"][x] for x in seasons])
    u = np.array([[gp["county_season_effects"][c][x] for x in seasons] for c in counties])
    ci = df["county"].cat.codes.to_numpy()
    si = df["season"].cat.codes.to_numpy()
    h = df["used_hybrid_seeds"].to_numpy()
    return a[ci] + b[ci] * h + s[si] + u[ci, si]


@pytest.fixture(scope="module")
def maize() -> pd.DataFrame:
    return datasets.maize_yield()


# ---------------------------------------------------------------------------- list / bundled


def test_list_datasets_names_and_descriptions() -> None:
    listed = datasets.list_datasets()
    assert set(listed) == {"sleepstudy", "radon", "owls", "soup", "maize_yield"}
    for name, description in listed.items():
        assert callable(getattr(datasets, name))
        assert isinstance(description, str) and description and "\n" not in description


def test_csvs_are_package_resources() -> None:
    data = resources.files("hiermodel.datasets").joinpath("data")
    assert data.joinpath("sleepstudy.csv").is_file()
    assert data.joinpath("radon.csv").is_file()


def test_sleepstudy() -> None:
    df = datasets.sleepstudy()
    assert df.shape == (180, 3)
    assert list(df.columns) == ["Reaction", "Days", "Subject"]
    assert df["Reaction"].dtype == np.float64
    assert df["Days"].dtype == np.int64
    assert isinstance(df["Subject"].dtype, pd.CategoricalDtype)
    cats = list(df["Subject"].cat.categories)
    assert len(cats) == 18 and all(isinstance(c, str) for c in cats)
    assert cats[0] == "308" and cats[-1] == "372" and cats == sorted(cats)
    assert sorted(df["Days"].unique()) == list(range(10))
    assert df["Reaction"].mean() == pytest.approx(298.51, abs=0.005)
    assert not df.isna().any().any()


def test_radon() -> None:
    df = datasets.radon()
    assert df.shape == (919, 4)
    assert list(df.columns) == ["floor", "county", "log_radon", "log_uranium"]
    assert df["floor"].dtype == np.int64
    assert set(df["floor"].unique()) == {0, 1}
    assert isinstance(df["county"].dtype, pd.CategoricalDtype)
    cats = list(df["county"].cat.categories)
    assert len(cats) == 85 and cats == sorted(cats)
    assert df["log_radon"].dtype == np.float64
    assert df["log_uranium"].dtype == np.float64
    # log_uranium is a county-level predictor
    assert (df.groupby("county", observed=True)["log_uranium"].nunique() == 1).all()
    assert not df.isna().any().any()


def test_bundled_loaders_return_fresh_copies() -> None:
    df = datasets.sleepstudy()
    df.loc[0, "Reaction"] = -1.0
    assert datasets.sleepstudy().loc[0, "Reaction"] > 0


# ------------------------------------------------------------------------------- maize: shape


def test_maize_shape_and_dtypes(maize: pd.DataFrame) -> None:
    assert maize.shape == (110_789, 4)
    assert list(maize.columns) == ["county", "maize_yield", "used_hybrid_seeds", "season"]
    assert isinstance(maize["county"].dtype, pd.CategoricalDtype)
    assert maize["maize_yield"].dtype == np.float64
    assert maize["used_hybrid_seeds"].dtype == np.bool_
    assert isinstance(maize["season"].dtype, pd.CategoricalDtype)
    assert list(maize["season"].cat.categories) == SEASONS
    assert set(maize["season"].unique()) == set(SEASONS)
    assert not maize.isna().any().any()


def test_maize_counties(maize: pd.DataFrame) -> None:
    cats = list(maize["county"].cat.categories)
    assert len(cats) == 30
    assert cats == sorted(cats)
    for name in NAMED_COUNTIES:
        assert name in cats
    assert maize["county"].iloc[0] == "Baringo" and maize["county"].iloc[-1] == "West Pokot"
    # sorted by county, like the talk's data frame
    assert maize["county"].cat.codes.is_monotonic_increasing


def test_maize_county_sizes_vary(maize: pd.DataFrame) -> None:
    sizes = maize["county"].value_counts()
    assert (sizes > 0).all() and len(sizes) == 30
    assert sizes.min() < 500
    assert sizes.max() > 10_000
    assert (sizes < 1_000).sum() >= 3 and (sizes > 5_000).sum() >= 3


def test_maize_hybrid_share(maize: pd.DataFrame) -> None:
    assert 0.85 <= maize["used_hybrid_seeds"].mean() <= 0.90


def test_maize_exactly_one_single_non_hybrid_county(maize: pd.DataFrame) -> None:
    nh = maize.loc[~maize["used_hybrid_seeds"], "county"].value_counts()
    assert len(nh) == 30  # every county has at least one non-hybrid record
    assert (nh == 1).sum() == 1
    single = nh.idxmin()
    assert single == maize.attrs["generating_parameters"]["single_non_hybrid_county"]
    # some further counties with very few non-hybrid records
    assert ((nh > 1) & (nh < 10)).sum() >= 2


def test_maize_quarter_bags(maize: pd.DataFrame) -> None:
    y = maize["maize_yield"].to_numpy()
    assert (y >= 0).all()
    assert np.array_equal(y * 4, np.round(y * 4))
    assert (y == 0).sum() > 100  # some zeros: log(y + 0.1) is needed
    assert (y % 1 != 0).mean() > 0.1  # not all whole bags
    assert 8 <= np.median(y) <= 25


# ------------------------------------------------------------------------ maize: determinism


def test_maize_deterministic_for_seed() -> None:
    a = datasets.maize_yield(seed=7, n=5_000)
    b = datasets.maize_yield(seed=7, n=5_000)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["generating_parameters"] == b.attrs["generating_parameters"]


def test_maize_differs_across_seeds() -> None:
    a = datasets.maize_yield(seed=1, n=5_000)
    b = datasets.maize_yield(seed=2, n=5_000)
    assert not a["maize_yield"].equals(b["maize_yield"])
    ga, gb = a.attrs["generating_parameters"], b.attrs["generating_parameters"]
    assert ga["county_intercepts"] != gb["county_intercepts"]
    # the sampling design is the same for every seed
    assert ga["county_rows"] == gb["county_rows"]


def test_maize_parameters_do_not_depend_on_n() -> None:
    small = datasets.maize_yield(seed=3, n=2_000).attrs["generating_parameters"]
    big = datasets.maize_yield(seed=3, n=20_000).attrs["generating_parameters"]
    for key in ("county_intercepts", "county_hybrid_effects", "county_season_effects"):
        assert small[key] == big[key]


def test_maize_full_size() -> None:
    # (its generation time shows in the suite's --durations output; no wall-clock assertion)
    df = datasets.maize_yield(seed=11)
    assert len(df) == 110_789


# ------------------------------------------------------------------------- maize: small n


@pytest.mark.parametrize("n", [150, 1_000, 3_333, 20_000])
def test_maize_small_n_keeps_structure(n: int) -> None:
    df = datasets.maize_yield(seed=5, n=n)
    assert df.shape == (n, 4)
    assert df["county"].nunique() == 30
    assert df["season"].cat.categories.tolist() == SEASONS
    nh = df.loc[~df["used_hybrid_seeds"], "county"].value_counts()
    hyb = df.loc[df["used_hybrid_seeds"], "county"].value_counts()
    assert (nh >= 1).all() and (hyb >= 1).all()
    assert (nh == 1).sum() == 1
    assert nh.idxmin() == "Nyandarua"
    gp = df.attrs["generating_parameters"]
    assert gp["n"] == n and sum(gp["county_rows"].values()) == n
    assert dict(df["county"].value_counts()) == gp["county_rows"]
    assert dict(nh) == gp["county_non_hybrid_rows"]


def test_maize_small_n_is_proportional() -> None:
    full = datasets.maize_yield(seed=0).attrs["generating_parameters"]["county_rows"]
    tenth = datasets.maize_yield(seed=0, n=11_079).attrs["generating_parameters"]["county_rows"]
    for county, rows in full.items():
        assert tenth[county] == pytest.approx(rows / 10, abs=5.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": -1}, "n must be >= 150"),
        ({"n": 0}, "n must be >= 150"),
        ({"n": 149}, "n must be >= 150"),
        ({"n": 1000.0}, "n must be an integer"),
        ({"n": True}, "n must be an integer"),
        ({"seed": -3}, "seed must be >= 0"),
        ({"seed": "0"}, "seed must be an integer"),
    ],
)
def test_maize_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataError, match=match):
        datasets.maize_yield(**kwargs)  # type: ignore[arg-type]


def test_maize_accepts_numpy_integers() -> None:
    df = datasets.maize_yield(seed=np.int64(2), n=np.int32(500))  # type: ignore[arg-type]
    assert len(df) == 500


# ------------------------------------------------------------------- maize: the talk's story


def test_machakos_hybrid_below_non_hybrid(maize: pd.DataFrame) -> None:
    gaps = _county_gaps(maize)
    assert gaps.loc["Machakos", "n_nh"] >= 60
    assert gaps.loc["Machakos", "mean_h"] < gaps.loc["Machakos", "mean_nh"]
    assert gaps.loc["Machakos", "gap"] < -0.1


def test_tharaka_nithi_largest_gap(maize: pd.DataFrame) -> None:
    gaps = _county_gaps(maize)
    # counties with a handful of non-hybrid rows have gaps that are mostly noise
    informative = gaps[gaps["n_nh"] >= 30]
    assert informative["gap"].idxmax() == "Tharaka-Nithi"
    assert gaps.loc["Tharaka-Nithi", "gap"] == pytest.approx(1.2, abs=0.2)
    b = maize.attrs["generating_parameters"]["county_hybrid_effects"]
    assert max(b, key=b.get) == "Tharaka-Nithi"
    assert min(b, key=b.get) == "Machakos"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_within_county_hybrid_effect(seed: int) -> None:
    df = datasets.maize_yield(seed=seed)
    gaps = _county_gaps(df)
    w = gaps["n_h"] * gaps["n_nh"] / (gaps["n_h"] + gaps["n_nh"])
    within = float((w * gaps["gap"]).sum() / w.sum())
    assert within == pytest.approx(0.44, abs=0.05)


def test_generating_parameters_documented_values(maize: pd.DataFrame) -> None:
    gp = maize.attrs["generating_parameters"]
    assert gp["seed"] == 0 and gp["n"] == 110_789
    a = np.array(list(gp["county_intercepts"].values()))
    b = gp["county_hybrid_effects"]
    assert set(gp["county_intercepts"]) == set(maize["county"].cat.categories) == set(b)
    assert a.mean() == pytest.approx(np.log(10), abs=1e-9)
    assert a.std(ddof=1) == pytest.approx(0.35, abs=1e-9)
    assert b["Machakos"] == -0.25 and b["Tharaka-Nithi"] == 1.2
    free = np.array([v for c, v in b.items() if c not in ("Machakos", "Tharaka-Nithi")])
    assert free.std(ddof=1) == pytest.approx(0.15, abs=1e-9)
    assert (free > 0).all()
    assert gp["hybrid_effect"] == 0.44
    assert 0.6 <= gp["sigma"] <= 0.8
    assert set(gp["season_effects"]) == set(SEASONS)
    assert sum(gp["season_effects"].values()) == pytest.approx(0.0, abs=1e-12)
    assert gp["county_season_sd"] == 0.2


def test_generating_parameters_recovered(maize: pd.DataFrame) -> None:
    resid = _log_y(maize).to_numpy() - _linear_predictor(maize)
    assert 0.6 <= resid.std() <= 0.8
    assert abs(resid.mean()) < 0.05
    # per county, mean residual is ~0 for the larger counties
    by_county = pd.Series(resid).groupby(maize["county"].to_numpy()).agg(["mean", "size"])
    big = by_county[by_county["size"] >= 1_000]
    assert (big["mean"].abs() < 0.1).all()


def test_county_season_deviations_are_findable(maize: pd.DataFrame) -> None:
    """Cell means of log-yield (after county, hybrid and season) track u[c, s]."""
    gp = maize.attrs["generating_parameters"]
    seasons = list(maize["season"].cat.categories)
    counties = list(maize["county"].cat.categories)
    u = np.array([[gp["county_season_effects"][c][s] for s in seasons] for c in counties])
    partial = _log_y(maize).to_numpy() - (
        _linear_predictor(maize)
        - u[maize["county"].cat.codes.to_numpy(), maize["season"].cat.codes.to_numpy()]
    )
    cells = (
        pd.DataFrame({"c": maize["county"].cat.codes, "s": maize["season"].cat.codes, "r": partial})
        .groupby(["c", "s"])["r"]
        .agg(["mean", "size"])
    )
    cells = cells[cells["size"] >= 50]
    truth = u[cells.index.get_level_values("c"), cells.index.get_level_values("s")]
    assert np.corrcoef(cells["mean"], truth)[0, 1] > 0.8
    # ... and they are not consistent year over year: LR 2019 vs LR 2020 uncorrelated-ish
    assert abs(np.corrcoef(u[:, 0], u[:, 2])[0, 1]) < 0.6
