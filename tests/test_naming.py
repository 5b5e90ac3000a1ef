"""Names of posterior variables and dimensions (pure Python)."""

from __future__ import annotations

from hiermodel.families import FAMILIES
from hiermodel.naming import POSTERIOR_NAMES, group_dims, safe


def test_every_family_auxiliary_parameter_is_a_reserved_posterior_name() -> None:
    """A grouping factor named like an auxiliary parameter (``sigma``, ``zi``, ...) must not
    name its levels dimension after it: the list the check uses has to cover every family."""
    aux = {a for cls in FAMILIES.values() for a in cls.aux}
    assert aux <= POSTERIOR_NAMES, sorted(aux - POSTERIOR_NAMES)


def test_levels_dimension_is_the_factor_unless_it_could_clash() -> None:
    assert group_dims("county") == ("county", "county__term", "county__cor")
    assert group_dims("dept:service") == ("dept_service", "dept_service__term",
                                          "dept_service__cor")
    for name in ("b", "sigma", "Intercept", "coef", "chain", "draw", "zi", "sd_x", "r_school",
                 "b_sigma"):
        levels, term, _ = group_dims(name)
        assert levels == f"{safe(name)}__level" and term == f"{safe(name)}__term"
