"""The comparison report and a fit report rendered in headless Chromium (selenium): a full-page
screenshot is taken, the page logs no console errors, every image loads, the verdict and the
per-group table are there.

Needs Debian's ``chromium`` and ``chromium-driver`` (found on PATH; nothing is installed at run
time): without them the tests skip and say so. One small comparison (the talk's maize models on
1,500 rows, 2 chains x 150 draws, 2-fold grouped CV) is shared by the module.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hiermodel.comparison import Comparison
from hiermodel.runs import run_compare

pytestmark = pytest.mark.fit

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MAX_HEIGHT = 16000  # px of the full-page screenshot

SPEC = """\
[data]
dataset = "maize_yield"
dataset_args = { seed = 0, n = 1500 }

[model]
formula = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)"
center_predictors = false

[priors]
template = "maize_talk"

[sampler]
chains = 2
draws = 150
tune = 200
seed = 1
# PyMC: 6 tiny fresh refits beat compiling a nutpie fold graph per variant (minutes, cold)
backend = "pymc"

[compare]
variants.pooled = "log(maize_yield + 0.1) ~ 0 + factor(used_hybrid_seeds)"
variants.unpooled = "log(maize_yield + 0.1) ~ 0 + county:factor(used_hybrid_seeds)"
group = "county"
logo = "kfold"
logo_folds = 2
logo_draws = 100
logo_tune = 150
"""


def _browser() -> tuple[str, str]:
    binary = next((p for name in BROWSERS if (p := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        missing = " and ".join(n for n, p in (("a Chromium browser", binary),
                                              ("chromedriver", driver)) if p is None)
        pytest.skip(f"no headless browser: {missing} not on PATH (Debian: apt-get install "
                    "chromium chromium-driver)")
    return binary, driver


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    binary, chromedriver = _browser()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, Path]:
    _browser()  # skip before spending a minute on the fits
    directory = tmp_path_factory.mktemp("maize")
    spec = directory / "maize_fast.toml"
    spec.write_text(textwrap.dedent(SPEC), encoding="utf-8")
    comparison = run_compare(spec, out=directory / "out")
    return comparison, directory / "out" / "compare"


def _open(driver: Any, page: Path, shot: Path) -> dict[str, Any]:
    """Load ``page``, take a full-page screenshot into ``shot`` and return what the checks
    need: console entries, image states, page height."""
    driver.get_log("browser")  # drop entries of earlier pages
    driver.set_window_size(1300, 1000)
    driver.get(page.resolve().as_uri())
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1300, min(height + 100, MAX_HEIGHT))
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
    assert driver.save_screenshot(str(shot))
    return {"console": driver.get_log("browser"), "images": images, "height": height}


def _check_page(state: dict[str, Any], shot: Path, n_images: int) -> None:
    errors = [e for e in state["console"] if e.get("level") == "SEVERE"]
    assert errors == []
    assert len(state["images"]) == n_images
    broken = [alt for alt, complete, width in state["images"] if not (complete and width > 0)]
    assert broken == []
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparison_report_in_chromium(driver: Any, compared: tuple[Comparison, Path],
                                       tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    comparison, directory = compared
    page = directory / "report.html"
    shot = tmp_path / "comparison.png"
    state = _open(driver, page, shot)
    # figures (shrinkage, 3 per-group estimates, group means, loo) + the 3 model graphs
    _check_page(state, shot, n_images=len(comparison.figures) + 3)
    verdict = driver.find_element(By.ID, "verdict")
    items = [li.text for li in verdict.find_elements(By.TAG_NAME, "li")]
    assert items == comparison.summary_lines()
    sections = [s.get_attribute("id") for s in driver.find_elements(By.TAG_NAME, "section")]
    assert sections[0] == "verdict"  # the plain-language verdict comes first
    rows = driver.find_elements(By.CSS_SELECTOR, "#groups-table tbody tr")
    assert len(rows) == len(comparison.tables["groups"]) == 30
    first = rows[0].find_elements(By.TAG_NAME, "td")[0].text
    assert first == str(comparison.tables["groups"]["group"].iloc[0])
    assert driver.find_elements(By.CSS_SELECTOR, "#logo-table tbody tr")
    graphs = driver.find_elements(By.CSS_SELECTOR, ".graphs figcaption b")
    assert [g.text for g in graphs] == ["pooled", "unpooled", "hierarchical"]


def test_rewritten_comparison_report_in_chromium(driver: Any,
                                                 compared: tuple[Comparison, Path],
                                                 tmp_path: Path) -> None:
    """`hiermodel report` rewrites the page from the stored files alone."""
    from selenium.webdriver.common.by import By

    from hiermodel.report import write_run_report

    comparison, directory = compared
    page = write_run_report(directory.parent)
    assert page == directory / "report.html"
    shot = tmp_path / "comparison_rewritten.png"
    state = _open(driver, page, shot)
    _check_page(state, shot, n_images=len(comparison.figures) + 3)
    items = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#verdict li")]
    assert items == comparison.summary_lines()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#groups-table tbody tr")) == 30


def test_fit_report_in_chromium(driver: Any, compared: tuple[Comparison, Path],
                                tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    comparison, _ = compared
    fit = comparison.fits["hierarchical"]
    page = fit.to_html(tmp_path / "fit.html")
    shot = tmp_path / "fit.png"
    state = _open(driver, page, shot)
    # population effects, forest by county, posterior predictive check, the model graph
    _check_page(state, shot, n_images=4)
    rows = driver.find_elements(By.CSS_SELECTOR, "#group-table-1 tbody tr")
    assert len(rows) == 30
    checks = driver.find_elements(By.CSS_SELECTOR, "#checks-table tbody tr")
    # the convergence gate's table, every check in its order
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in checks] == [
        "max R-hat", "min bulk ESS", "min tail ESS", "divergences", "tree depth", "min E-BFMI"]
