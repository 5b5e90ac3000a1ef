"""Exact marginalisation of gaussian group-level effects.

For ``y ~ N(W theta + Z r, sigma^2 I)`` with one grouping factor, ``r_j ~ N(0, Sigma)`` per
level and ``Sigma = L L'``, the group effects integrate out in closed form, level by level:

    y_j ~ N(W_j theta, sigma^2 I + Z_j Sigma Z_j')

With ``K_j = I + L' Z_j'Z_j L / sigma^2`` (q x q, q = terms of the factor), ``e = y - W theta``
and ``u_j = L' Z_j'e_j``, the matrix determinant lemma and Woodbury's identity give

    log p(y) = -n/2 log 2pi - n log sigma - 1/2 sum_j log det K_j
               - (e'e - sum_j u_j' K_j^-1 u_j / sigma^2) / (2 sigma^2),

which needs only per-level sufficient statistics (Z'Z, Z'W, Z'y) and global ones (W'W, W'y,
y'y): the sampler's cost no longer grows with the rows or the levels' dimensions, and it
samples only the population-level parameters, sigma and the group SDs / correlations — the
funnel between group SDs and group effects is gone. The group effects are then drawn, draw by
draw, from their exact conditional ``v_j | y, theta ~ N(K_j^-1 u_j / sigma^2, K_j^-1)``,
``r_j = L v_j``, so the joint posterior is exactly the one the joint sampler targets.

K_j is a q x q matrix per level with q small (at most MAX_TERMS), so its Cholesky factor is unrolled
into elementwise operations on vectors over levels: fast in PyMC's C backend and in numba
(nutpie), with no batched linear-algebra Ops.

Crossed designs (several grouping factors): the factor with the most group effects
(:func:`marginal_group`) is integrated out and the others are sampled jointly. Given the other
factors' effects the rows of one level are still independent of the other levels, so the same
density holds with ``e = y - W theta - (the other factors' Z r)`` computed row by row
(:func:`marginal_logp_rows`: ``e'e`` and the per-level sums ``Z_j'e_j``, one scatter-add per
term), and the conditional draws subtract the other factors' drawn effects. On a crossed
73,000-row design with 3,000 students this removes 3,000 of 4,120 sampled dimensions
(docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytensor.tensor as pt

from hiermodel.naming import group_dims, safe

# the unrolled Cholesky grows as q^3 expressions; beyond this many terms per factor the joint
# sampler is used
MAX_TERMS = 6
# marginalize="auto" (the default) integrates a factor out when it has at least this many
# group effects (levels x terms). Measured (docs/performance.md, "Defaults from measurements"):
# 3,000 levels of y ~ x + (1|g), 60,000 rows: 2.8 vs 21.3 s and 5.3x the population ESS; the
# issue-15 crossed workload (3,000 students): 29.0 vs 42.5 s; with 18-100 levels sampled
# centered the joint sampler had the better ESS (0.53-0.84x for the marginal), so small
# factors stay joint unless marginalize=True.
AUTO_EFFECTS = 1000


@dataclass
class OtherEffects:
    """A grouping factor sampled jointly beside the integrated one: its rows' columns, to
    subtract its drawn effects ``r_<g>`` in the conditional draws."""

    name: str  # the posterior variable r_<g>
    index: np.ndarray  # (n,) level of each row
    Z: np.ndarray  # (n, q_g) the factor's columns, in r_<g>'s term order


@dataclass
class MarginalStats:
    """Sufficient statistics of a gaussian model whose grouping factor ``group`` is integrated
    out; with other factors (``others``), also the factor's rows (``index``, ``Z``)."""

    group: str
    levels: list[str]
    terms: list[str]
    ZZ: np.ndarray  # (G, q, q)
    ZW: np.ndarray  # (G, q, p1)
    Zy: np.ndarray  # (G, q)
    WW: np.ndarray  # (p1, p1)
    Wy: np.ndarray  # (p1,)
    yy: float
    n: int
    theta_names: list[str]  # posterior variables making up theta, in W's column order
    correlated: list[tuple[int, int]]  # (start, k) of each correlated block in the terms
    index: np.ndarray | None = None  # (n,) level of each row (crossed designs)
    Z: np.ndarray | None = None  # (n, q) the factor's columns per row (crossed designs)
    others: list[OtherEffects] = field(default_factory=list)


def eligibility(design: Any) -> str | None:
    """Why no group effects of ``design`` can be integrated out (None when they can)."""
    family = design.family
    if family.name != "gaussian" or family.link != "identity":
        return "not a gaussian model with identity link"
    if design.components:
        return "distributional sub-model"
    if design.prepared.weights is not None:
        return "weighted likelihood"
    if not design.blocks:
        return "no group-level terms"
    if marginal_group(design) is None:
        return f"every grouping factor has more than {MAX_TERMS} group-level terms"
    return None


def marginal_group(design: Any) -> str | None:
    """The grouping factor to integrate out: of those with at most MAX_TERMS terms, the one
    with the most group effects (levels x terms), which removes the most sampled dimensions."""
    size: dict[str, tuple[int, int]] = {}
    for b in design.blocks:
        levels, q = size.get(b.group, (len(b.levels), 0))
        size[b.group] = (levels, q + b.k)
    fits = [(levels * q, g) for g, (levels, q) in size.items() if q <= MAX_TERMS]
    if not fits:
        return None
    return max(fits, key=lambda t: t[0])[1]


def auto_marginalizes(design: Any) -> bool:
    """Whether ``marginalize="auto"`` integrates out :func:`marginal_group` (an eligible
    design assumed): it has at least AUTO_EFFECTS group effects."""
    group = marginal_group(design)
    if group is None:
        return False
    blocks = [b for b in design.blocks if b.group == group]
    return len(blocks[0].levels) * sum(b.k for b in blocks) >= AUTO_EFFECTS


def sufficient_statistics(design: Any, x_mean: np.ndarray, theta_names: list[str],
                          group: str | None = None) -> MarginalStats:
    """The per-level and global statistics the marginal likelihood of ``group`` (default:
    :func:`marginal_group`) needs; with other grouping factors, also the rows."""
    group = group or marginal_group(design)
    blocks = [b for b in design.blocks if b.group == group]
    index = blocks[0].index
    levels = blocks[0].levels
    Z = np.concatenate([b.Z for b in blocks], axis=1)
    W = design.X - x_mean
    if design.has_intercept:
        W = np.column_stack([np.ones(len(design.y)), W])
    y = np.asarray(design.y, dtype=float)
    if design.offset is not None:
        y = y - design.offset
    G, q, p1 = len(levels), Z.shape[1], W.shape[1]
    ZZ = np.zeros((G, q, q))
    ZW = np.zeros((G, q, p1))
    Zy = np.zeros((G, q))
    for a in range(q):
        Zy[:, a] = np.bincount(index, weights=Z[:, a] * y, minlength=G)
        for b in range(q):
            ZZ[:, a, b] = np.bincount(index, weights=Z[:, a] * Z[:, b], minlength=G)
        for c in range(p1):
            ZW[:, a, c] = np.bincount(index, weights=Z[:, a] * W[:, c], minlength=G)
    correlated = []
    start = 0
    for b in blocks:
        if b.correlated and b.k > 1:
            correlated.append((start, b.k))
        start += b.k
    others: dict[str, list[Any]] = {}
    for b in design.blocks:
        if b.group != group:
            others.setdefault(b.group, []).append(b)
    return MarginalStats(
        group=blocks[0].group, levels=list(levels), terms=[t for b in blocks for t in b.terms],
        ZZ=ZZ, ZW=ZW, Zy=Zy, WW=W.T @ W, Wy=W.T @ y, yy=float(y @ y), n=len(y),
        theta_names=theta_names, correlated=correlated,
        index=index if others else None, Z=Z if others else None,
        others=[OtherEffects(f"r_{safe(g)}", bs[0].index,
                             np.concatenate([b.Z for b in bs], axis=1))
                for g, bs in others.items()])


def _unrolled_cholesky(K: list[list[Any]]) -> list[list[Any]]:
    """Lower Cholesky factor of a q x q matrix whose entries are tensors over levels."""
    q = len(K)
    C: list[list[Any]] = [[None] * q for _ in range(q)]
    for i in range(q):
        for j in range(i + 1):
            s = K[i][j]
            for m in range(j):
                s = s - C[i][m] * C[j][m]
            C[i][j] = pt.sqrt(s) if i == j else s / C[j][j]
    return C


def marginal_logp(stats: MarginalStats, theta: Any, L: Any, sigma: Any) -> Any:
    """log p(y | theta, L, sigma) with the group effects integrated out (a scalar tensor), from
    the sufficient statistics (one grouping factor)."""
    if stats.ZW.shape[2]:
        Ze = pt.as_tensor_variable(stats.Zy) - pt.tensordot(
            pt.as_tensor_variable(stats.ZW), theta, axes=[[2], [0]])
        WW = pt.as_tensor_variable(stats.WW)
        ee = stats.yy - 2 * pt.dot(theta, stats.Wy) + pt.dot(theta, pt.dot(WW, theta))
    else:
        Ze = pt.as_tensor_variable(stats.Zy)
        ee = pt.as_tensor_variable(stats.yy)
    return _woodbury_logp(stats, Ze, ee, L, sigma)


def marginal_logp_rows(stats: MarginalStats, residual: Any, L: Any, sigma: Any) -> Any:
    """log p(y | everything else, L, sigma) with the factor's group effects integrated out,
    from each row's ``residual`` = y minus every sampled term (crossed designs)."""
    assert stats.index is not None and stats.Z is not None
    G = len(stats.levels)
    index = pt.as_tensor_variable(stats.index.astype(np.int64))
    cols = []
    for a in range(stats.Z.shape[1]):
        z = stats.Z[:, a]
        weighted = residual if np.all(z == 1.0) else residual * z
        cols.append(pt.inc_subtensor(pt.zeros(G)[index], weighted))
    Ze = cols[0] if len(cols) == 1 else pt.stack(cols, axis=1)
    return _woodbury_logp(stats, Ze, pt.sum(residual**2), L, sigma)


def _scalar_woodbury_logp(stats: MarginalStats, Ze: Any, ee: Any, sd: Any, sigma: Any) -> Any:
    """:func:`_woodbury_logp` for one term (q = 1, ``Ze`` a vector over levels): elementwise
    only, with no (G, 1) matrix products (a quarter of the gradient's cost at 73,000 rows)."""
    s2 = sigma**2
    K = 1.0 + stats.ZZ[:, 0, 0] * sd**2 / s2
    return (-0.5 * stats.n * np.log(2 * np.pi) - stats.n * pt.log(sigma)
            - 0.5 * pt.sum(pt.log(K)) - 0.5 * (ee - pt.sum((Ze * sd) ** 2 / K) / s2) / s2)


def _woodbury_logp(stats: MarginalStats, Ze: Any, ee: Any, L: Any, sigma: Any) -> Any:
    """The density of the module docstring from ``Z_j'e_j`` ((G, q), or (G,) for one term)
    and ``e'e``."""
    q = len(stats.terms)
    if q == 1:
        return _scalar_woodbury_logp(stats, Ze if Ze.ndim == 1 else Ze[:, 0], ee, L[0, 0],
                                     sigma)
    ZZ = pt.as_tensor_variable(stats.ZZ)
    # A_j = L' ZZ_j L, u_j = L' Ze_j
    A = pt.tensordot(pt.tensordot(ZZ, L, axes=[[2], [0]]), L, axes=[[1], [0]])  # (G, b, a)
    u = pt.dot(Ze, L)  # (G, a)
    s2 = sigma**2
    K = [[(1.0 if a == b else 0.0) + A[:, a, b] / s2 for b in range(q)] for a in range(q)]
    C = _unrolled_cholesky(K)
    logdet: Any = 0.0
    quad: Any = 0.0
    w: list[Any] = []
    for i in range(q):  # forward substitution C w = u: u' K^-1 u = |w|^2
        s = u[:, i]
        for m in range(i):
            s = s - C[i][m] * w[m]
        w.append(s / C[i][i])
        logdet = logdet + 2 * pt.log(C[i][i])
        quad = quad + w[i] ** 2
    return (-0.5 * stats.n * np.log(2 * np.pi) - stats.n * pt.log(sigma)
            - 0.5 * pt.sum(logdet) - 0.5 * (ee - pt.sum(quad) / s2) / s2)


def block_cholesky(parts: list[tuple[int, Any]]) -> Any:
    """The block-diagonal Cholesky factor of Sigma from (size, factor) per block."""
    q = sum(k for k, _ in parts)
    L = pt.zeros((q, q))
    start = 0
    for k, part in parts:
        L = pt.set_subtensor(L[start:start + k, start:start + k], part)
        start += k
    return L


def _cholesky_draws(stats: MarginalStats, sd: np.ndarray, cor: np.ndarray | None
                    ) -> np.ndarray:
    """(S, q, q) Cholesky factors of Sigma from the draws of sd_<g> (S, q) and cor_<g>."""
    S, q = sd.shape
    R = np.broadcast_to(np.eye(q), (S, q, q)).copy()
    pos = 0
    for start, k in stats.correlated:
        assert cor is not None
        for i in range(k):
            for j in range(i + 1, k):
                R[:, start + i, start + j] = R[:, start + j, start + i] = cor[:, pos]
                pos += 1
    Sigma = sd[:, :, None] * R * sd[:, None, :]
    return np.linalg.cholesky(Sigma)


def group_effect_draws(stats: MarginalStats, posterior: Any, seed: int | None) -> Any:
    """``posterior`` with ``r_<g>`` added: one exact conditional draw per posterior draw."""
    import xarray as xr

    g = safe(stats.group)
    gdim, tdim, _ = group_dims(stats.group)
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    S = chains * draws

    def flat(name: str) -> np.ndarray:
        return np.asarray(posterior[name].values, dtype=float).reshape(S, -1)

    q = len(stats.terms)
    sd = flat(f"sd_{g}")
    cor = flat(f"cor_{g}") if stats.correlated else None
    sigma = flat("sigma")[:, 0]
    theta = (np.concatenate([flat(n) for n in stats.theta_names], axis=1)
             if stats.theta_names else np.zeros((S, 0)))
    L = _cholesky_draws(stats, sd, cor)
    rng = np.random.default_rng(None if seed is None else [int(seed), 0x6D61])
    G = len(stats.levels)
    r = np.empty((S, G, q))
    # bounded memory: ~16 MB per chunk for the levels, ~32 MB for the rows of crossed designs
    step = max(1, min(2_000_000 // max(G * q * q, 1), 4_000_000 // max(stats.n, 1)))
    others = _other_effects(stats, posterior, S)
    for lo in range(0, S, step):
        hi = min(S, lo + step)
        Ls, s2 = L[lo:hi], sigma[lo:hi, None, None] ** 2
        ze = stats.Zy[None] - np.einsum("gqp,sp->sgq", stats.ZW, theta[lo:hi])
        if others is not None:
            rows_of_level, per_row, effects = others
            ze = ze - np.stack([rows_of_level[a] @ (per_row @ effects[lo:hi].T)
                                for a in range(q)], axis=-1).transpose(1, 0, 2)
        u = np.einsum("sgc,sca->sga", ze, Ls)
        A = np.einsum("sca,gcd,sdb->sgab", Ls, stats.ZZ, Ls)
        K = np.eye(q) + A / s2[:, :, :, None]
        eps = rng.standard_normal((hi - lo, G, q, 1))
        if q == 1:  # K_j is a number: the same draws without batched 1 x 1 solves
            k = K[..., 0]
            v = (u / s2) / k + eps[..., 0] / np.sqrt(k)
        else:
            Kc = np.linalg.cholesky(K)
            mean = np.linalg.solve(K, (u / s2)[..., None])[..., 0]
            v = mean + np.linalg.solve(np.swapaxes(Kc, -1, -2), eps)[..., 0]
        r[lo:hi] = np.einsum("sab,sgb->sga", Ls, v)
    da = xr.DataArray(r.reshape(chains, draws, G, q), dims=("chain", "draw", gdim, tdim),
                      coords={"chain": posterior["chain"], "draw": posterior["draw"],
                              gdim: stats.levels, tdim: posterior[f"sd_{g}"].coords[tdim]})
    return posterior.assign({f"r_{g}": da})


def _other_effects(stats: MarginalStats, posterior: Any, S: int
                   ) -> tuple[list[Any], Any, np.ndarray] | None:
    """For crossed designs, sparse maps to subtract the other factors' drawn effects: (per
    term a, the (G, n) map of rows to levels weighted by Z[:, a]; the (n, E) map of the other
    factors' E effects to rows; the (S, E) drawn effects). None with one grouping factor."""
    if not stats.others:
        return None
    from scipy import sparse

    assert stats.index is not None and stats.Z is not None
    n, G = stats.n, len(stats.levels)
    rows = np.arange(n)
    rows_of_level = [sparse.csr_array((stats.Z[:, a], (stats.index, rows)), shape=(G, n))
                     for a in range(stats.Z.shape[1])]
    maps, draws = [], []
    for o in stats.others:
        r = np.asarray(posterior[o.name].values, dtype=float)
        n_lev, k = r.shape[2], r.shape[3]
        cols = o.index[:, None] * k + np.arange(k)[None, :]
        maps.append(sparse.csr_array((o.Z.ravel(), (np.repeat(rows, k), cols.ravel())),
                                     shape=(n, n_lev * k)))
        draws.append(r.reshape(S, n_lev * k))
    return rows_of_level, sparse.hstack(maps, format="csr"), np.concatenate(draws, axis=1)


__all__ = ["AUTO_EFFECTS", "MAX_TERMS", "MarginalStats", "OtherEffects", "auto_marginalizes",
           "block_cholesky", "eligibility",
           "group_effect_draws", "marginal_group", "marginal_logp", "marginal_logp_rows",
           "sufficient_statistics"]
