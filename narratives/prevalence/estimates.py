"""Corrected prevalence: the tracker's count adjusted by an analysts' audit, with honest intervals.

The tracker counts `counted` of a cell's `total` documents (classify-and-count, CC: q = k/n); its
classifier errs, so q is biased. Analysts audit documents of a population (e.g. all weeks),
stratified by the tracker's decision. Undoing the design with the population's W = counted/total:
PPV = P(carries | counted) and FOR = P(carries | not) are stratum means, pi = W PPV + (1-W) FOR,
tpr = W PPV / pi, fpr = W (1-PPV) / (1-pi).

- `acc` (default): p = (q - fpr) / (tpr - fpr), valid under prior-probability shift (a week's
  share differs from the audit population's; what each class's documents look like does not).
  When the cell *is* the audit population it equals the exact, design-unbiased stratified
  estimator q PPV + (1-q) FOR, and is computed as that.
- `strat`: q PPV + (1-q) FOR for any cell: right only without shift (the benchmark shows it).
- `pacc`, `emq`: use document scores: the mean score corrected by the class means; EM
  (Saerens et al. 2002) on scores recalibrated on the audit (weighted Platt scaling).
- `ppi`: prediction-powered inference (ppi_py, PPI++) within each stratum, weighted; needs the
  audit drawn from the cell itself.
quapy's ACC/PACC/EMQ `aggregation_fit` take unweighted labels (plain confusion matrix, plain means,
unweighted calibration): a stratified sample would count its over-sampled counted stratum as the
population. So the formulas are written here with design weights; with equal weights they agree
with quapy's (tests/test_estimates.py).

Intervals: each stratum's labels are resampled and everything recomputed. A stratum's yes/no
labels bootstrap to Binomial(n, x/n)/n; we draw from the Jeffreys posterior Beta(x+1/2, n-x+1/2)
instead: the same to first order, but it does not collapse to a point when a stratum's labels all
agree (prevalence near 0), where the plain bootstrap's intervals miss (docs/prevalence.md).
Deviations shrink by sqrt(1 - n/N): a stratum labelled in full is known exactly. A cell other than
the audit population adds its own count's noise: given its make-up, k = Bin(pos, tpr) + Bin(neg,
fpr) (score methods: the within-class spread of the mean score; emq: a bootstrap of the cell's
scores). Percentile interval, clipped to [0, 1]. Pure numpy; ppi_py is imported only by `ppi`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# The fewest audit labels a corrected share is reported with: 20, at least 5 in each stratum (or
# the whole stratum when it is smaller). With 10 labels in a stratum its rate is known to about
# +-0.3 (95%); under 5 a rate moves in steps of 20% or more. Measured (docs/prevalence.md): with
# 10 labels from other weeks the corrected share was worse than the raw count (1.3x its error).
MIN_AUDIT = 20
MIN_STRATUM = 5
METHODS: tuple[str, ...] = ("cc", "acc", "strat", "pacc", "emq", "ppi")
# acc, chosen by benchmarks/prevalence.py (docs/prevalence.md): the exact stratified estimator
# when the audit is the cell's (a third of classify-and-count's error there), as low an error as
# any method when it comes from other weeks, nominal coverage in both, and it needs only counts.
DEFAULT_METHOD = "acc"
NEEDS_SCORES = ("pacc", "emq", "ppi")
WORDS = {
    "cc": "classify-and-count, no correction (binomial interval only)",
    "acc": "adjusted count (the tracker's error rates from the audit)",
    "strat": "stratified estimate (audit PPV and FOR applied to the cell)",
    "pacc": "probabilistic adjusted count (mean score, class means from the audit)",
    "emq": "EM prior re-estimation on audit-calibrated scores",
    "ppi": "prediction-powered inference within each stratum",
}


@dataclass(frozen=True)
class Audit:
    """One narrative's audit labels, one row per audited document."""

    predicted: np.ndarray  # bool: the tracker counted this document for the narrative
    truth: np.ndarray  # bool: the analyst says it carries the narrative
    counted: int  # documents the tracker counted in the population the audit was drawn from
    total: int  # documents in that population
    scores: np.ndarray | None = None  # tracker's document score (probability) per audited doc

    def __post_init__(self):
        for name, kind in (("predicted", bool), ("truth", bool), ("scores", float)):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=kind))

    def stratum(self, counted: bool) -> tuple[int, np.ndarray, np.ndarray | None]:
        """(population size, labels, scores) of the counted (True) or not-counted stratum."""
        m = self.predicted == counted
        size = self.counted if counted else self.total - self.counted
        return size, self.truth[m].astype(float), None if self.scores is None else self.scores[m]


@dataclass(frozen=True)
class Estimate:
    method: str
    raw: float | None  # classify-and-count share k/n
    share: float | None  # corrected share (None when not enough labels)
    lo: float | None  # interval (level given), None when not enough labels
    hi: float | None
    labels: int  # audit labels behind it
    enough: bool
    note: str


def shortfall(audit: Audit | None) -> str | None:
    """Why the audit cannot support a corrected share, or None when it can."""
    need = f"at least {MIN_STRATUM} in each stratum"
    if audit is None or len(audit.truth) == 0:
        return f"no audit labels, {MIN_AUDIT} needed ({need})"
    n1, n0 = int(audit.predicted.sum()), int((~audit.predicted).sum())
    if audit.total <= 0 or n1 > audit.counted or n0 > audit.total - audit.counted:
        return f"audit of {n1} counted and {n0} other labels does not fit its population"
    enough_h = all(n >= min(MIN_STRATUM, size) for n, size in
                   ((n1, audit.counted), (n0, audit.total - audit.counted)))  # fmt: skip
    if n1 + n0 < min(MIN_AUDIT, audit.total) or not enough_h:
        return f"{n1 + n0} audit labels ({n1} counted, {n0} not), {MIN_AUDIT} needed ({need})"
    return None


def _weight(audit: Audit) -> float:
    return audit.counted / audit.total if audit.total else 0.0


def _rates(w, ppv, fo):
    """(pi, tpr, fpr) from the stratum rates (arrays); nan where undefined."""
    w = np.asarray(w, dtype=float)
    pi = w * ppv + (1 - w) * fo
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.where(pi > 0, w * ppv / pi, np.nan)
        fpr = np.where(pi < 1, w * (1 - ppv) / (1 - pi), np.nan)
    return pi, tpr, fpr


def error_rates(audit: Audit) -> tuple[float, float]:
    """(tpr, fpr) of the tracker in the audit's population, undoing the stratified design; nan
    where undefined (tpr with no audited positive, fpr with no audited negative)."""
    (_, y1, _), (_, y0, _) = audit.stratum(True), audit.stratum(False)
    w = _weight(audit)
    ppv = y1.mean() if len(y1) else (0.0 if w == 0 else np.nan)
    fo = y0.mean() if len(y0) else (0.0 if w == 1 else np.nan)
    _, tpr, fpr = _rates(w, ppv, fo)
    return float(tpr), float(fpr)


def _fpc(n: int, size: int) -> float:
    return math.sqrt(max(0.0, 1 - n / size)) if size else 0.0


def _rate_draws(y, size, b, rng, resample) -> tuple[float, np.ndarray]:
    """(estimate, b draws) of a stratum's share of yes labels."""
    n, x = len(y), float(np.sum(y))
    if n == 0:
        return 0.0, np.zeros(b)
    hat = x / n
    d = rng.beta(x + 0.5, n - x + 0.5, b) if resample == "jeffreys" else rng.binomial(n, hat, b) / n
    return hat, np.clip(hat + _fpc(n, size) * (d - hat), 0, 1)


def _counts(method, q, n, same, audit, rng, b, resample):
    """acc and strat: (point, replicates)."""
    w = _weight(audit)
    (s1, y1, _), (s0, y0, _) = audit.stratum(True), audit.stratum(False)
    ppv, ppv_b = _rate_draws(y1, s1, b, rng, resample)
    fo, fo_b = _rate_draws(y0, s0, b, rng, resample)
    if method == "strat" or (method == "acc" and same):
        # the stratified estimator (acc reduces to it exactly when the cell is the population)
        point, reps = q * ppv + (1 - q) * fo, q * ppv_b + (1 - q) * fo_b
        if not same:  # the cell's own PPV/FOR scatter binomially around the population's
            k = round(q * n)
            reps = reps + (rng.binomial(k, ppv_b) - k * ppv_b
                           + rng.binomial(n - k, fo_b) - (n - k) * fo_b) / n  # fmt: skip
        return float(point), reps
    pi, tpr, fpr = _rates(w, ppv, fo)
    _, tpr_b, fpr_b = _rates(w, ppv_b, fo_b)
    if 0 < pi < 1 and not tpr > fpr:
        return None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        # no audited positive (or negative): the rates are undefined at the estimate, though
        # not in the (smoothed) replicates; the point is then their median (estimate())
        point = (q - fpr) / (tpr - fpr) if 0 < pi < 1 else np.nan
        m1 = round(n * (min(max(point, 0.0), 1.0) if 0 < pi < 1 else q))
    t_b, f_b = np.nan_to_num(tpr_b), np.nan_to_num(fpr_b)
    noise = (rng.binomial(m1, t_b) - m1 * t_b + rng.binomial(n - m1, f_b) - (n - m1) * f_b) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = np.where(tpr_b > fpr_b, (q + noise - fpr_b) / (tpr_b - fpr_b), np.nan)
    return float(point), reps


def _moments(audit, b, rng):
    """Design-weighted E[y], E[s y], E[s (1-y)] over the audit population: (point, b draws)."""
    out_hat, out_b = np.zeros(3), np.zeros((b, 3))
    for counted in (True, False):
        size, y, s = audit.stratum(counted)
        if len(y) == 0:
            continue
        w = _weight(audit) if counted else 1 - _weight(audit)
        idx, f = rng.integers(0, len(y), (b, len(y))), _fpc(len(y), size)
        cols = np.stack([y, s * y, s * (1 - y)], axis=1)
        hat, boot = cols.mean(0), cols[idx].mean(1)
        out_hat += w * hat
        out_b += w * (hat + f * (boot - hat))
    return out_hat, out_b


def _pacc(q, cell, same, audit, rng, b):
    (p_a, sy, s0), mb = _moments(audit, b, rng)
    if not 0 < p_a < 1:
        return None, None
    e1, e0 = sy / p_a, s0 / (1 - p_a)
    if not e1 > e0:
        return None, None
    mean_s = float(np.mean(cell))
    point = (mean_s - e0) / (e1 - e0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e1_b, e0_b = mb[:, 1] / mb[:, 0], mb[:, 2] / (1 - mb[:, 0])
        reps = (mean_s - e0_b) / (e1_b - e0_b)
    if not same:  # the cell's mean score scatters with its within-class spread
        y, s = audit.truth.astype(float), audit.scores
        v1 = np.var(s[y == 1]) if (y == 1).sum() > 1 else 0.0
        v0 = np.var(s[y == 0]) if (y == 0).sum() > 1 else 0.0
        pc = min(max(point, 0.0), 1.0)
        sd = math.sqrt((pc * v1 + (1 - pc) * v0) / len(cell))
        reps = reps + rng.normal(0, sd, b) / (e1 - e0)
    return float(point), np.where(e1_b > e0_b, reps, np.nan)


def _logit(s):
    s = np.clip(np.asarray(s, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(s / (1 - s))


def platt(z, y, w, ridge: float = 1.0, steps: int = 15) -> np.ndarray:
    """Weighted logistic regression of y on (1, z), batched: z, y, w are (b, n); returns (b, 2).
    Newton steps with an L2 penalty (sklearn's default strength, C=1) so that an audit whose
    labels the score separates perfectly still gives finite coefficients."""
    x = np.stack([np.ones_like(z), z], axis=2)
    theta = np.zeros((z.shape[0], 2))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.einsum("bnk,bk->bn", x, theta)))
        grad = np.einsum("bnk,bn->bk", x, w * (p - y)) + theta / ridge
        hess = np.einsum("bnk,bnl,bn->bkl", x, x, w * p * (1 - p)) + np.eye(2) / ridge
        theta = theta - np.linalg.solve(hess, grad[..., None])[..., 0]
    return theta


def em_prior(post, prior, steps: int = 40) -> np.ndarray:
    """The fixed point of Saerens-Latinne-Decaestecker EM for two classes, batched: post (b, n)
    are P(y=1|x) under the training prior `prior` (b,); returns the re-estimated prior per row.
    EM climbs the likelihood sum_i log(p/prior P_i + (1-p)/(1-prior) (1-P_i)), concave in p, so
    its maximiser on [0, 1] is found by bisection on the derivative (40 halvings, ~1e-12)
    instead of EM's often slow iterations; tests check it against quapy's EMQ.EM."""
    prior = np.clip(prior, 1e-6, 1 - 1e-6)[:, None]
    a, c = post / prior, (1 - post) / (1 - prior)

    def slope(p):
        return ((a - c) / np.maximum(p[:, None] * a + (1 - p[:, None]) * c, 1e-300)).sum(1)

    lo, hi = np.zeros(len(post)), np.ones(len(post))
    for _ in range(steps):
        mid = (lo + hi) / 2
        up = slope(mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return (lo + hi) / 2


def _emq(q, cell, same, audit, rng, b):
    y, z = audit.truth.astype(float), _logit(audit.scores)
    if y.min() == y.max():
        return None, None
    strata = [(np.flatnonzero(audit.predicted == c), audit.stratum(c)[0]) for c in (True, False)]
    strata = [(m, size) for m, size in strata if len(m)]
    # design weights (stratum share / its labels), scaled to sum to the number of labels
    w = np.concatenate([np.full(len(m), size / audit.total / len(m)) for m, size in strata])
    w = w * len(y)
    idx = np.stack([np.concatenate([m for m, _ in strata])] + [np.concatenate(
        [m[rng.integers(0, len(m), len(m))] for m, _ in strata]) for _ in range(b)])  # fmt: skip
    theta = platt(z[idx], y[idx], np.broadcast_to(w, idx.shape))
    zc = _logit(cell)
    boot = np.broadcast_to(zc, (b, len(zc))) if same else zc[rng.integers(0, len(zc), (b, len(zc)))]
    cells = np.vstack([zc, boot])
    est = em_prior(1 / (1 + np.exp(-(theta[:, :1] + theta[:, 1:] * cells))),
                   (w * y[idx]).sum(1) / w.sum())  # fmt: skip
    return float(est[0]), est[1:]


def _ppi(q, cell, audit, threshold, level):
    from ppi_py import ppi_mean_ci, ppi_mean_pointestimate

    alpha, z = 1 - level, NormalDist().inv_cdf(0.5 + level / 2)
    point, var = 0.0, 0.0
    for counted in (True, False):
        size, y, s = audit.stratum(counted)
        unl = cell[(cell >= threshold) == counted]
        if size == 0:
            continue
        if len(y) < 2 or len(unl) == 0:
            return None, None
        w = size / audit.total
        if len(y) >= size:  # the stratum labelled in full: its share is known
            point += w * float(y.mean())
            continue
        for lam in (None, 1.0):  # power tuning is undefined when all labels agree: plain PPI
            theta = float(np.ravel(ppi_mean_pointestimate(y, s, unl, lam=lam))[0])
            lo, hi = (float(np.ravel(v)[0]) for v in ppi_mean_ci(y, s, unl, alpha, lam=lam))
            if np.isfinite([theta, lo, hi]).all():
                break
        point += w * theta
        var += (w * (hi - lo) / (2 * z) * _fpc(len(y), size)) ** 2
    return point, (point - z * math.sqrt(var), point + z * math.sqrt(var))


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n))


def estimate(counted: int, total: int, audit: Audit | None, method: str = DEFAULT_METHOD,
             level: float = 0.95, n_boot: int = 1000, seed: int = 0, *,
             cell_scores: np.ndarray | None = None, threshold: float = 0.5,
             resample: str = "jeffreys") -> Estimate:  # fmt: skip
    """Corrected share of a *cell* (e.g. one week, one language) where the tracker counted
    `counted` of `total` documents, using error rates estimated from `audit` (which may have been
    drawn from a larger population: all weeks). Interval: resampling of the audit within its two
    strata combined with the binomial uncertainty of the cell's own count; clipped to [0,1].
    audit None or too few labels -> enough=False, share/lo/hi None, note says how many are needed.
    `cell_scores` (every cell document's score) are needed by pacc, emq and ppi; `threshold` is
    the score at which the tracker counts (ppi splits the cell's scores by it); `resample`:
    "jeffreys" (default) or "bootstrap" (plain binomial bootstrap of the count methods)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    labels = 0 if audit is None else len(audit.truth)
    if total <= 0:
        return Estimate(method, None, None, None, None, labels, False, "no documents in this cell")
    q = counted / total
    z = NormalDist().inv_cdf(0.5 + level / 2)
    if method == "cc":
        lo, hi = wilson(counted, total, z)
        return Estimate(method, q, q, lo, hi, labels, True, WORDS["cc"])

    def without(note: str) -> Estimate:
        return Estimate(method, q, None, None, None, labels, False, note)

    short = shortfall(audit)
    if short:
        return without(short)
    same = counted == audit.counted and total == audit.total
    cell = None if cell_scores is None else np.asarray(cell_scores, dtype=float)
    if method in NEEDS_SCORES and (audit.scores is None or cell is None or len(cell) == 0):
        return without(f"{method} needs the tracker's scores of the audit and of the cell")
    rng = np.random.default_rng(seed)
    interval = None
    if method in ("acc", "strat"):
        point, reps = _counts(method, q, total, same, audit, rng, n_boot, resample)
    elif method == "pacc":
        point, reps = _pacc(q, cell, same, audit, rng, n_boot)
    elif method == "emq":
        point, reps = _emq(q, cell, same, audit, rng, n_boot)
    else:
        if not same:
            return without("ppi needs the audit drawn from this cell itself")
        if int((cell >= threshold).sum()) != counted:
            return without(f"ppi: the cell's scores at {threshold:g} do not give its count")
        point, interval = _ppi(q, cell, audit, threshold, level)
    if point is None:
        return without(f"{labels} audit labels: the tracker's decisions do not tell carriers from "
                       "others here (tpr <= fpr, or a class absent): no correction")  # fmt: skip
    if interval is None:
        reps = np.asarray(reps, dtype=float)
        bad = ~np.isfinite(reps)  # a replicate where the rates do not separate: no information
        reps[bad] = rng.integers(0, 2, int(bad.sum()))
        reps = np.clip(reps, 0, 1)
        point = float(np.median(reps)) if not np.isfinite(point) else point
        interval = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    share = min(max(point, 0.0), 1.0)
    lo = min(max(float(interval[0]), 0.0), share)
    hi = max(min(float(interval[1]), 1.0), share)
    n1 = int(audit.predicted.sum())
    note = f"{WORDS[method]}; {labels} audit labels ({n1} counted, {labels - n1} not)"
    return Estimate(method, q, share, lo, hi, labels, True, note)
