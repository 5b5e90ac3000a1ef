"""Response families: names (lme4/R and Bambi spellings), links, and response checks.

Front-end only: nothing here touches PyMC. The build stage maps a :class:`Family` to a
likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hiermodel.errors import FamilyError, did_you_mean


@dataclass(frozen=True)
class Family:
    """A response distribution with its link and auxiliary parameters."""

    name: str  # canonical: gaussian, t, bernoulli, binomial, poisson, negativebinomial, gamma, beta
    link: str
    aux: tuple[str, ...]  # auxiliary parameter classes, e.g. ("sigma",)
    bambi_name: str
    r_name: str  # how R prints it, for summaries

    @property
    def identity_gaussian(self) -> bool:
        """True for the families whose response-scale priors scale with sd(y)."""
        return self.name in ("gaussian", "t") and self.link == "identity"

    def __str__(self) -> str:
        return f"{self.r_name} ( {self.link} )"


_LINKS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (default link, allowed links)
    "gaussian": ("identity", ("identity", "log", "inverse")),
    "t": ("identity", ("identity", "log", "inverse")),
    "bernoulli": ("logit", ("logit", "probit", "cloglog")),
    "binomial": ("logit", ("logit", "probit", "cloglog")),
    "poisson": ("log", ("log", "identity")),
    "negativebinomial": ("log", ("log", "identity")),
    # R's Gamma() defaults to the inverse link, which leaves most of the prior's support with
    # negative means (and NUTS starts at eta = 0, i.e. an infinite mean). hiermodel defaults to
    # log, as most applied Gamma GLMMs do; pass link="inverse" for R's default.
    "gamma": ("log", ("log", "inverse", "identity")),
    "beta": ("logit", ("logit", "probit", "cloglog")),
}

_AUX: dict[str, tuple[str, ...]] = {
    "gaussian": ("sigma",),
    "t": ("sigma", "nu"),
    "bernoulli": (),
    "binomial": (),
    "poisson": (),
    "negativebinomial": ("alpha",),
    "gamma": ("alpha",),
    "beta": ("kappa",),
}

_BAMBI = {
    "gaussian": "gaussian",
    "t": "t",
    "bernoulli": "bernoulli",
    "binomial": "binomial",
    "poisson": "poisson",
    "negativebinomial": "negativebinomial",
    "gamma": "gamma",
    "beta": "beta",
}

_R_NAMES = {
    "gaussian": "gaussian",
    "t": "student_t",
    "bernoulli": "bernoulli",
    "binomial": "binomial",
    "poisson": "poisson",
    "negativebinomial": "negbinomial",
    "gamma": "Gamma",
    "beta": "Beta",
}

# Every accepted spelling (lower-cased) -> canonical name.
_ALIASES = {
    "gaussian": "gaussian",
    "normal": "gaussian",
    "t": "t",
    "student": "t",
    "student_t": "t",
    "studentt": "t",
    "bernoulli": "bernoulli",
    "binomial": "binomial",
    "poisson": "poisson",
    "negativebinomial": "negativebinomial",
    "negative_binomial": "negativebinomial",
    "negbinomial": "negativebinomial",
    "negbin": "negativebinomial",
    "gamma": "gamma",
    "beta": "beta",
}


def get_family(name: str | Family, link: str | None = None) -> Family:
    """Resolve a family name (R, brms or Bambi spelling, e.g. ``"Gamma"``) and link."""
    if isinstance(name, Family):
        if link is None or link == name.link:
            return name
        name = name.name
    key = str(name).strip().lower().replace("-", "_")
    if key.endswith("()"):
        key = key[:-2]
    canonical = _ALIASES.get(key)
    if canonical is None:
        hint = did_you_mean(key, _ALIASES)
        listing = ", ".join(sorted(_LINKS))
        raise FamilyError(
            f"unknown family '{name}'{hint} Supported: {listing}"
            if hint
            else f"unknown family '{name}'; supported: {listing}"
        )
    default, allowed = _LINKS[canonical]
    chosen = default if link is None else str(link).strip().lower()
    if chosen not in allowed:
        raise FamilyError(
            f"link '{link}' is not available for family '{canonical}'; use one of: "
            f"{', '.join(allowed)}"
        )
    return Family(
        name=canonical,
        link=chosen,
        aux=_AUX[canonical],
        bambi_name=_BAMBI[canonical],
        r_name=_R_NAMES[canonical],
    )


def check_response(
    family: Family, y: np.ndarray, label: str, trials: np.ndarray | None = None
) -> None:
    """Raise :class:`FamilyError` when ``y`` cannot come from ``family``.

    ``label`` names the response in messages (its formula text).
    """
    y = np.asarray(y, dtype=float)
    name = family.name

    def bad(mask: np.ndarray, what: str, fix: str) -> None:
        n_bad = int(mask.sum())
        if n_bad:
            example = y[mask][:3].tolist()
            raise FamilyError(
                f"family '{name}' needs {what}, but {n_bad} of {y.size} rows of response "
                f"'{label}' are not (e.g. {example}); {fix}"
            )

    if name in ("poisson", "negativebinomial"):
        bad((y < 0) | (y != np.round(y)), "non-negative integer counts", "use family "
            "'gaussian' (or 'gamma') for continuous responses")
    elif name == "bernoulli":
        bad((y != 0) & (y != 1), "a 0/1 (or two-level) response",
            "use 'binomial' with cbind(successes, failures) for counts")
    elif name == "binomial":
        if trials is None:
            bad((y != 0) & (y != 1), "a 0/1 (or two-level) response or cbind(successes, failures)",
                "write the response as cbind(successes, failures)")
        else:
            bad((y < 0) | (y != np.round(y)), "non-negative integer successes",
                "check the first argument of cbind()")
            bad(np.asarray(trials) < y, "successes ≤ successes + failures",
                "failures must be non-negative")
    elif name == "gamma":
        bad(y <= 0, "a strictly positive response", "use 'gaussian' or transform the response")
    elif name == "beta":
        bad((y <= 0) | (y >= 1), "a response strictly between 0 and 1",
            "squeeze the values into (0, 1) or use 'binomial'")


__all__ = ["Family", "check_response", "get_family"]
