"""The :class:`Family` base class: everything hiermodel knows about one response distribution.

A family owns its math once: links, auxiliary parameters, response checks, the per-observation
log-density (used by LOO, leave-one-group-out and checked against the PyMC graph), simulation
(posterior and prior predictive), the sufficient statistics that exact compression fits on, and
the latent residual variance behind an ICC. The PyMC side of each family sits in
``hiermodel.backend.likelihoods``, looked up by :attr:`Family.name`.

Arrays follow one convention: ``eta`` is (draws, rows); ``y`` and ``trials`` are (rows,) and
broadcast against it; each auxiliary parameter is (draws, 1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hiermodel.errors import FamilyError, InternalError
from hiermodel.families.cells import Cells, cell_keys, multiplicity_cells
from hiermodel.families.links import inverse_link

Aux = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Family(ABC):
    """A response distribution with its link (subclasses: one per family)."""

    link: str

    name: ClassVar[str]  # canonical name: the key of the PyMC likelihood in the backend
    r_name: ClassVar[str]  # how R prints it, for summaries
    bambi_name: ClassVar[str]  # Bambi's family (its automatic priors and design)
    links: ClassVar[tuple[str, ...]]  # allowed links, the default first
    aux: ClassVar[tuple[str, ...]] = ()  # auxiliary parameter classes, e.g. ("sigma",)
    aliases: ClassVar[tuple[str, ...]] = ()  # other accepted spellings (lower case)
    # links under which rows of one cell can be replaced by sufficient statistics (empty: the
    # family has none)
    compress_links: ClassVar[tuple[str, ...]] = ()
    # True when the offset is summed into an exposure instead of splitting cells (poisson)
    offset_as_exposure: ClassVar[bool] = False
    # True for ordinal families: ordered thresholds instead of an intercept, response coded
    # 1..K by the data stage
    ordinal: ClassVar[bool] = False

    @property
    def identity_gaussian(self) -> bool:
        """True for the families whose response-scale priors scale with sd(y) (of
        :meth:`prior_response`)."""
        return self.name in ("gaussian", "t", "lognormal") and self.link == "identity"

    def prior_response(self, y: np.ndarray) -> np.ndarray:
        """The response on the scale the linear predictor models (for data-scaled priors):
        ``y`` itself, ``log(y)`` for lognormal."""
        return y

    def bambi_family(self) -> tuple[str, str]:
        """Bambi's (family, link) used for the design matrices and its automatic priors."""
        return self.bambi_name, self.link

    def __str__(self) -> str:
        return f"{self.r_name} ( {self.link} )"

    # -- data -------------------------------------------------------------------------------
    def check_response(self, y: np.ndarray, label: str, trials: np.ndarray | None = None) -> None:
        """Raise :class:`FamilyError` when ``y`` cannot come from this family (``label``
        names the response in messages). Any real response fits the base class."""
        return None

    def _reject(self, y: np.ndarray, mask: np.ndarray, label: str, what: str, fix: str) -> None:
        n_bad = int(mask.sum())
        if n_bad:
            example = y[mask][:3].tolist()
            raise FamilyError(
                f"family '{self.name}' needs {what}, but {n_bad} of {y.size} rows of response "
                f"'{label}' are not (e.g. {example}); {fix}"
            )

    # -- densities and simulation -------------------------------------------------------------
    def mean(self, eta: np.ndarray, aux: Aux | None = None) -> np.ndarray:
        """The expected response for linear predictor ``eta`` and auxiliary draws ``aux``
        (families whose mean does not depend on them ignore ``aux``)."""
        return inverse_link(self.link, eta)

    @abstractmethod
    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        """log p(y_i | eta_si, aux_s): array (draws, rows)."""

    @abstractmethod
    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        """New responses, one per draw and row, shape of ``eta``."""

    # -- compression ----------------------------------------------------------------------------
    def compression_problem(self) -> str | None:
        """Why this family/link has no sufficient statistics for a cell, or None when it has
        (every family still compresses exactly by multiplicity, see :meth:`compress`)."""
        if not self.compress_links:
            return "has no per-cell sufficient statistics"
        if self.link not in self.compress_links:
            return f"needs the {' or '.join(self.compress_links)} link"
        return None

    def compress(self, key_columns: list[np.ndarray], y: np.ndarray,
                 trials: np.ndarray | None, offset: np.ndarray | None,
                 weights: np.ndarray | None = None) -> Cells:
        """Group observations by identical model inputs: sufficient statistics when the family
        has them and the fit is unweighted, else multiplicity cells (identical inputs and
        response, :func:`~hiermodel.families.cells.multiplicity_cells`).

        Weighted fits always use multiplicity cells, even for the families with sufficient
        statistics: folding weights into binomial/poisson statistics would make successes and
        counts non-integer, which PyMC's discrete likelihoods cast to integers, and one rule
        for all weighted fits keeps them simple. Rows with equal inputs and response but
        different weights still share a cell (their weights add up)."""
        y = np.asarray(y, dtype=float)
        keys = list(key_columns)
        sufficient = weights is None and self.compression_problem() is None
        if offset is not None and not (sufficient and self.offset_as_exposure):
            keys.append(offset)
        if sufficient:
            rows, inverse = cell_keys(keys or [np.zeros(len(y))])
            return self.cell_statistics(rows, inverse, y, trials, offset)
        keys.append(y)
        if trials is not None:
            keys.append(trials)
        rows, inverse = cell_keys(keys)
        return multiplicity_cells(rows, inverse, y, trials, weights)

    def cell_statistics(self, rows: np.ndarray, inverse: np.ndarray, y: np.ndarray,
                        trials: np.ndarray | None, offset: np.ndarray | None) -> Cells:
        """The cells' sufficient statistics and the constant that restores full-data log-p."""
        raise InternalError(f"family '{self.name}' has no sufficient statistics")

    # -- variance partition ---------------------------------------------------------------------
    def latent_variance(self, aux: Aux, y_mean: float) -> tuple[np.ndarray | float, str]:
        """Residual variance on the scale of the linear predictor (for the ICC) and how it
        was obtained; NaN when the family has none."""
        return float("nan"), f"no latent residual variance for {self.name} ({self.link})"


def link_scale_variance(link: str) -> tuple[float, str] | None:
    """The latent-variable residual variance of a binary-type link (logit pi^2/3, probit 1,
    cloglog pi^2/6), or None for other links."""
    table = {"logit": (np.pi**2 / 3, "pi^2/3"), "probit": (1.0, "1"),
             "cloglog": (np.pi**2 / 6, "pi^2/6")}
    return table.get(link)


__all__ = ["Aux", "Family", "link_scale_variance"]
