"""Centring by language and the knn-vote scorer (hand-built vectors; real e5 on a tiny fixture)."""

import json

import numpy as np
import pytest

from narratives.cli import main
from narratives.core.settings import Settings
from narratives.core.store import reader
from narratives.matching import centring
from narratives.matching.bank import BACKGROUND, ExemplarBank
from narratives.matching.base import score_matrix, scorer_parameters


def _unit(rows):
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _bank(rows):
    ids, langs, vecs = zip(*rows, strict=True)
    return ExemplarBank(list(ids), list(langs), [f"t{i}" for i in range(len(ids))], _unit(vecs))  # fmt: skip


# meaning axes 0 and 1; axes 2 and 3 are a large per-language offset (en, uk)
EN, UK = np.array([0, 0, 2.0, 0]), np.array([0, 0, 0, 2.0])


def test_centring_by_language_removes_the_language_offset():
    # narrative a only has an English exemplar, b only a Ukrainian one; the Ukrainian passage
    # says a, but its language offset makes b's exemplar the nearest until both are centred
    bank = _bank([("a", "en", [1, 0, 0, 0] + EN), ("b", "uk", [0, 1, 0, 0] + UK)])
    passage = _unit([[1, 0, 0, 0] + UK])
    plain = score_matrix(passage, bank, ["a", "b"], "max-exemplar")[0][0]
    means = {"en": _unit([EN])[0] * 0.9, "uk": _unit([UK])[0] * 0.9}
    centred = score_matrix(
        passage, bank, ["a", "b"], "max-exemplar", passage_langs=["uk"], lang_means=means
    )[0][0]
    assert plain.argmax() == 1 and centred.argmax() == 0
    with pytest.raises(ValueError, match="each passage's language"):
        score_matrix(passage, bank, ["a", "b"], "max-exemplar", lang_means=means)


def test_language_means_and_unknown_languages_are_left_alone():
    v = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    means = centring.language_means(v, ["en", "en", "ru"])
    assert set(means) == {"en", "ru"} and means["en"] == pytest.approx([0.5, 0.5, 0])
    out = centring.centre_by_language(v, ["en", "de", "ru"], {"en": means["en"]})
    assert out[1] == pytest.approx(v[1]) and out[2] == pytest.approx(v[2])
    assert np.linalg.norm(out[0]) == pytest.approx(1.0) and out[0] @ v[1] < 0


def test_knn_vote_prefers_several_close_exemplars_and_gates_on_background():
    # a has one exemplar a little closer; b has three close ones: b gets more votes
    bank = _bank([("a", "en", [1, 0.05, 0]), ("b", "en", [1, 0.2, 0]), ("b", "en", [1, 0.21, 0.01]),
                  ("b", "en", [1, 0.22, 0.02]), (BACKGROUND, "en", [0, 0, 1])])  # fmt: skip
    passages = _unit([[1, 0.1, 0], [0.1, 0, 1]])
    votes, nearest = score_matrix(passages, bank, ["a", "b"], "knn-vote")
    assert votes[0].argmax() == 1 and nearest[0, 0] == 0
    assert votes[0, 1] == pytest.approx(sum(passages[0] @ bank.vectors[i] for i in (1, 2, 3)), rel=1e-5)  # fmt: skip
    assert (votes[1] < 0).all()  # nearest to the background: no narrative confirmed
    assert scorer_parameters("knn-vote")["knn_k"] == Settings().knn_k


def test_eval_centred_by_language_is_recorded(e5, data_dir, tmp_path, capsys):
    args = ["--home", str(tmp_path), "-q", "eval", str(data_dir / "eval-labelled.jsonl"),
            "--narratives", str(data_dir / "mini-set.yaml"), "--scorer", "knn-vote",
            "--centre-on", str(data_dir / "centre-unlabelled.jsonl"), "--out", str(tmp_path / "rep")]  # fmt: skip
    assert main(args) == 0
    report = json.loads(next((tmp_path / "rep").glob("eval-*.json")).read_text())
    assert report["scorer"] == "knn-vote" and report["metrics"]["all"]["documents"] == 9
    # the six labelled documents each carry one of two clear narratives: all ranked first (a
    # ranking by chance gets all six 1 time in 64; "at least half" would be chance itself)
    assert report["metrics"]["all"]["top1_accuracy"] == 1.0
    assert report["metrics"]["all"]["macro_f1"] >= 0.9
    with reader(tmp_path / "eval.duckdb") as con:
        comp, params = con.execute(
            "SELECT components, parameters FROM runs WHERE id = ?", [report["run_id"]]
        ).fetchall()[0]
    assert json.loads(comp)["centring"] == "by-language"
    assert json.loads(params)["centre_on"].endswith("centre-unlabelled.jsonl")
    bad = tmp_path / "empty.jsonl"
    bad.write_text('{"text": "", "lang": "en"}\n')
    assert main(args[:-4] + ["--centre-on", str(bad)]) == 2
    assert "to centre by" in capsys.readouterr().err
