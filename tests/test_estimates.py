"""Corrected prevalence (narratives.prevalence.estimates) on fixtures whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from narratives.prevalence.estimates import (
    MIN_AUDIT,
    Audit,
    em_prior,
    error_rates,
    estimate,
    shortfall,
)


def population(n, share, tpr, fpr, rng=None):
    """(truth, predicted, scores): exactly round(n*share) positives; with `rng` each document is
    flagged with probability tpr/fpr, without it exactly round(tpr*positives) etc. are."""
    pos = round(n * share)
    y = np.zeros(n, dtype=bool)
    y[:pos] = True
    if rng is None:
        pred = np.zeros(n, dtype=bool)
        pred[: round(pos * tpr)] = True
        pred[pos : pos + round((n - pos) * fpr)] = True
    else:
        pred = np.where(y, rng.random(n) < tpr, rng.random(n) < fpr)
    noise = rng.normal(0, 0.1, n) if rng is not None else np.linspace(-0.1, 0.1, n)
    scores = np.clip(np.where(pred, 0.7, 0.3) + 0.1 * y + noise, 0.001, 0.999)
    return y, scores >= 0.5, scores


def stratified_audit(y, pred, scores, per_stratum, rng):
    """Up to `per_stratum` random documents from the counted and from the other documents."""
    take = [rng.permutation(np.flatnonzero(pred == c))[:per_stratum] for c in (True, False)]
    i = np.concatenate(take)
    return Audit(pred[i], y[i], int(pred.sum()), len(y), scores[i])


def test_a_perfect_classifier_is_left_as_it_is():
    rng = np.random.default_rng(0)
    y, _, s = population(400, 0.3, 1, 0, rng)
    audit = stratified_audit(y, y, s, 25, rng)
    assert error_rates(audit) == (1.0, 0.0)
    cell_y = np.arange(200) < 30  # another cell, its own share 0.15
    for counted, total in ((int(y.sum()), len(y)), (int(cell_y.sum()), len(cell_y))):
        e = estimate(counted, total, audit)
        assert e.enough and e.share == pytest.approx(counted / total, abs=1e-12)
        assert e.lo <= counted / total <= e.hi


def test_known_error_rates_recover_a_shifted_prevalence():
    rng = np.random.default_rng(1)
    y, pred, s = population(100_000, 0.2, 0.8, 0.1)
    audit = stratified_audit(y, pred, s, 4000, rng)
    tpr, fpr = error_rates(audit)
    assert tpr == pytest.approx(0.8, abs=0.015) and fpr == pytest.approx(0.1, abs=0.01)
    # a cell at prevalence 0.45 flagged at the same rates: q = 0.45*0.8 + 0.55*0.1 = 0.415
    e = estimate(41_500, 100_000, audit)
    assert e.raw == pytest.approx(0.415)
    assert e.share == pytest.approx(0.45, abs=0.02) and e.lo <= 0.45 <= e.hi
    assert e.hi - e.lo < 0.08
    # the stratified estimate ignores the shift: wrong by far more than its interval
    s_ = estimate(41_500, 100_000, audit, "strat")
    assert not s_.lo <= 0.45 <= s_.hi


def test_an_audit_of_the_whole_population_gives_the_exact_share():
    rng = np.random.default_rng(2)
    y, pred, s = population(300, 0.27, 0.7, 0.15, rng)
    audit = Audit(pred, y, int(pred.sum()), len(y), s)
    for method in ("acc", "strat", "ppi"):
        e = estimate(int(pred.sum()), len(y), audit, method, cell_scores=s)
        assert e.share == pytest.approx(y.mean(), abs=1e-9), method
        assert e.hi - e.lo == pytest.approx(0, abs=1e-9), method


def test_in_its_own_population_acc_is_the_stratified_estimator():
    rng = np.random.default_rng(3)
    y, pred, s = population(500, 0.3, 0.75, 0.12, rng)
    audit = stratified_audit(y, pred, s, 25, rng)
    q = pred.mean()
    a, b = audit.truth[audit.predicted].mean(), audit.truth[~audit.predicted].mean()
    e = estimate(int(pred.sum()), len(y), audit)
    assert e.share == pytest.approx(q * a + (1 - q) * b, abs=1e-12)


@pytest.mark.parametrize("shifted", [False, True])
def test_intervals_cover_the_true_share(shifted):
    """200 cells of 200 documents (prevalences 0-0.5), 25+25 audit labels each, from the cell
    itself or from another population (5,000 documents at prevalence 0.25)."""
    hits, hits_cc, err, err_cc = [], [], [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y, pred, s = population(200, rng.choice([0, 0.05, 0.1, 0.2, 0.3, 0.5]), 0.75, 0.1, rng)
        src = population(5000, 0.25, 0.75, 0.1, rng) if shifted else (y, pred, s)
        e = estimate(int(pred.sum()), 200, stratified_audit(*src, 25, rng), seed=seed)
        assert e.enough
        hits.append(e.lo <= y.mean() <= e.hi)
        cc = estimate(int(pred.sum()), 200, None, "cc")
        hits_cc.append(cc.lo <= y.mean() <= cc.hi)
        err.append(abs(e.share - y.mean()))
        err_cc.append(abs(e.raw - y.mean()))
    assert np.mean(hits) >= 0.9
    # the count's own (binomial) interval misses: the error rates are not in it
    assert np.mean(hits_cc) < 0.75
    # a small cell's own counting noise, divided by tpr - fpr, bounds the gain over a modest bias
    assert np.mean(err) < np.mean(err_cc)


def test_too_few_labels_say_how_many_are_needed():
    rng = np.random.default_rng(4)
    y, pred, s = population(400, 0.3, 0.8, 0.1, rng)
    few = stratified_audit(y, pred, s, 6, rng)  # 12 labels
    lopsided = Audit(np.r_[np.ones(3), np.zeros(30)], np.zeros(33), int(pred.sum()), 400)
    for audit in (None, few, lopsided):
        e = estimate(int(pred.sum()), 400, audit)
        assert not e.enough and e.share is None and e.lo is None and e.hi is None
        assert f"{MIN_AUDIT} needed" in e.note and "at least 5 in each stratum" in e.note
        assert e.raw == pytest.approx(pred.mean())
    assert "12 audit labels" in shortfall(few)
    # a small population labelled in full is enough, however few its documents
    tiny = Audit([True, True, False], [True, False, False], 2, 3)
    assert estimate(2, 3, tiny).share == pytest.approx(1 / 3)


def test_degenerate_inputs_give_no_exception():
    rng = np.random.default_rng(5)
    y, pred, s = population(300, 0.2, 0.8, 0.1, rng)
    audit = stratified_audit(y, pred, s, 25, rng)
    assert not estimate(0, 0, audit).enough and estimate(0, 0, audit).raw is None
    # no positive anywhere in the audit: share near 0, an interval that is not a point
    none = Audit(audit.predicted, np.zeros(50, bool), audit.counted, audit.total)
    e = estimate(audit.counted, audit.total, none)
    assert e.share == 0 and e.lo == 0 and 0 < e.hi < 0.5
    shifted = estimate(10, 200, none)
    assert shifted.enough and shifted.lo <= shifted.share <= shifted.hi
    # counts that say the opposite of the truth (tpr <= fpr): no corrected share for other cells
    worse = Audit(audit.predicted, ~audit.predicted, audit.counted, audit.total)
    assert not estimate(10, 200, worse).enough and "tpr <= fpr" in estimate(10, 200, worse).note
    for counted, total in ((0, 200), (200, 200)):
        e = estimate(counted, total, audit)
        assert e.enough and 0 <= e.lo <= e.share <= e.hi <= 1
    for method in ("pacc", "emq", "ppi"):
        e = estimate(10, 200, Audit(audit.predicted, audit.truth, audit.counted, 300), method)
        assert not e.enough and "scores" in e.note
    with pytest.raises(ValueError, match="unknown method"):
        estimate(1, 2, audit, "nope")


def _dummy_classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit([[0.0], [1.0]], [0, 1])


def test_acc_and_pacc_agree_with_quapy_on_a_uniform_sample():
    from quapy.method.aggregative import ACC, PACC

    rng = np.random.default_rng(6)
    y, pred, s = population(2000, 0.3, 0.8, 0.15, rng)
    i = rng.choice(2000, 300, replace=False)  # uniform: its own counts are the design weights
    audit = Audit(pred[i], y[i], int(pred[i].sum()), 300, s[i])
    ty, tpred, ts = population(400, 0.1, 0.8, 0.15, rng)
    acc = ACC(_dummy_classifier(), fit_classifier=False, val_split=None, solver="exact-raise")
    acc.aggregation_fit(pred[i].astype(int), y[i].astype(int))
    pacc = PACC(_dummy_classifier(), fit_classifier=False, val_split=None, solver="exact-raise")
    pacc.aggregation_fit(np.c_[1 - s[i], s[i]], y[i].astype(int))
    want_acc = acc.aggregate(tpred.astype(int))[1]
    want_pacc = pacc.aggregate(np.c_[1 - ts, ts])[1]
    got = estimate(int(tpred.sum()), 400, audit, "acc")
    assert got.share == pytest.approx(want_acc, abs=1e-9)
    got = estimate(int(tpred.sum()), 400, audit, "pacc", cell_scores=ts)
    assert got.share == pytest.approx(want_pacc, abs=1e-9)


def test_em_prior_agrees_with_quapy_emq():
    from quapy.method.aggregative import EMQ

    rng = np.random.default_rng(7)
    for prior, shift in ((0.3, 0.1), (0.2, 0.5), (0.5, 0.02)):
        y = rng.random(3000) < shift
        logit = np.where(y, 1.5, -1.5) + rng.normal(0, 1.2, 3000) + np.log(prior / (1 - prior))
        post = 1 / (1 + np.exp(-logit))
        want, _ = EMQ.EM(np.array([1 - prior, prior]), np.c_[1 - post, post], epsilon=1e-10)
        assert em_prior(post[None], np.array([prior]))[0] == pytest.approx(want[1], abs=1e-4)
