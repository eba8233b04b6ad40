"""Scorers, calibration, `narratives eval` and `narratives import` (real e5 on tiny fixtures)."""

import json
from pathlib import Path

import numpy as np
import pytest

from narratives.cli import main
from narratives.core.settings import Settings
from narratives.core.store import reader
from narratives.evaluation.labelled import LabelledDataError, load_labelled
from narratives.evaluation.run import run_eval
from narratives.matching import calibration
from narratives.matching.bank import BACKGROUND, ExemplarBank, embed_bank, generic_background
from narratives.matching.base import GATED, get_scorer, score_matrix
from narratives.matching.scorers.cosine import narrative_scores
from narratives.matching.sets import load_set


def _bank(rows):
    """A bank from (narrative, lang, vector) rows, vectors normalised."""
    ids, langs, vecs = zip(*rows, strict=True)
    v = np.array(vecs, dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return ExemplarBank(list(ids), list(langs), [f"t{i}" for i in range(len(ids))], v)


def test_background_gate_turns_a_generic_passage_into_none():
    bank = _bank([("a", "en", [1, 0, 0]), ("b", "en", [0, 1, 0]),
                  (BACKGROUND, "en", [0.6, 0.0, 0.8])])  # fmt: skip
    passages = np.array([[1, 0.05, 0], [0.7, 0, 0.7]], dtype=np.float32)
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    scores, _ = score_matrix(passages, bank, ["a", "b"], "max-exemplar")
    assert scores[0, 0] > 0.9  # close to a, far from the background: kept
    assert scores[1, 0] < 0  # closer to the background than to a: gated
    plain, _, background = narrative_scores(passages, bank, ["a", "b"])
    assert plain[1, 0] == pytest.approx(scores[1, 0] + GATED)
    assert background[1] > plain[1, 0]


def test_lang_balanced_does_not_favour_the_passage_language():
    # narrative a has a near-identical Russian exemplar but a poor English one; b is moderate in both
    bank = _bank([("a", "ru", [1, 0.1, 0]), ("a", "en", [0, 0, 1]),
                  ("b", "ru", [1, 0.6, 0]), ("b", "en", [1, 0.7, 0])])  # fmt: skip
    passage = np.array([[1, 0.1, 0]], dtype=np.float32)
    passage /= np.linalg.norm(passage)
    best = score_matrix(passage, bank, ["a", "b"], "max-exemplar")[0][0]
    balanced = score_matrix(passage, bank, ["a", "b"], "lang-balanced")[0][0]
    assert best.argmax() == 0 and balanced.argmax() == 1


def test_best_f1_threshold_and_groups():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    cut = calibration.best_f1_threshold(scores, np.array([1, 1, 0, 0]), 0.5)
    assert 0.7 < cut < 0.8
    assert calibration.best_f1_threshold(scores, np.zeros(4), 0.42) == 0.42
    nset = load_set(Settings().narrative_set)
    bank = ExemplarBank(*ExemplarBank.texts_of(nset), np.zeros((1, 1)))
    groups = bank.groups()
    # an English exemplar and its Russian and Ukrainian translations share one group
    en0 = bank.texts.index(nset.get("isk-responsible").exemplars["en"][0])
    ru0 = bank.texts.index(nset.get("isk-responsible").exemplars["ru"][0])
    assert groups[en0] == groups[ru0] == ("isk-responsible", 0)


def test_exemplar_head_confirms_narratives_and_leaves_generic_text(e5, data_dir, tmp_path):
    nset = load_set(data_dir / "mini-set.yaml")
    from narratives.core.store import writer

    with writer(tmp_path / "e.duckdb") as con:
        bank, _ = embed_bank(con, nset, e5)
    texts = ["Kyiv organised the shooting at the concert hall, Moscow claims.",
             "Исламское государство заявило, что его бойцы устроили теракт.",
             "The bakery sells fresh bread every morning."]  # fmt: skip
    rows = get_scorer("exemplar-head").decide(e5.embed(texts), bank, nset, top_k=2)
    assert rows[0][0].narrative_id == "ukraine-involved" and rows[0][0].decision == "confirmed"
    assert rows[1][0].narrative_id == "isk-responsible" and rows[1][0].decision == "confirmed"
    assert rows[0][0].threshold == Settings().head_threshold and rows[0][0].exemplar_text


def test_eval_command_reports_and_records_the_run(e5, data_dir, tmp_path, capsys):
    common = ["--home", str(tmp_path), "-q"]
    args = ["eval", str(data_dir / "eval-labelled.jsonl"), "--narratives", str(data_dir / "mini-set.yaml"),
            "--train", str(data_dir / "eval-train.jsonl"), "--out", str(tmp_path / "rep")]  # fmt: skip
    assert main(common + args) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "fitted-thresholds" in out
    report = json.loads(next((tmp_path / "rep").glob("eval-*.json")).read_text())
    assert (tmp_path / "rep" / f"eval-{report['run_id']}.md").exists()
    m = report["metrics"]
    assert set(m) == {"all", "en", "ru", "uk"} and m["all"]["documents"] == 9
    per = m["all"]["per_narrative"]
    assert per["ukraine-involved"]["support"] == 3 and per["(none)"]["support"] == 3
    assert m["all"]["macro_f1"] >= 0.6  # two clear narratives and unrelated text
    assert set(report["fitted"]["thresholds"]) == {"ukraine-involved", "isk-responsible"}
    with reader(tmp_path / "eval.duckdb") as con:
        kind, status, comp, params, model = con.execute(
            "SELECT kind, status, components, parameters, model_id FROM runs WHERE id = ?",
            [report["run_id"]],
        ).fetchall()[0]
    comp, params = json.loads(comp), json.loads(params)
    assert (kind, status, model) == ("eval", "ok", e5.model_id)
    assert comp["method"] == "fitted-thresholds" and comp["scorer"] == "exemplar-head"
    assert params["train"].endswith("eval-train.jsonl") and params["exemplar_role"] == "passage"
    assert params["head_c"] == Settings().head_c and params["head_threshold"] == 0.5

    # cross-validated logistic head on the same (cached) vectors; the train file may not be DATA
    assert main(common + ["eval", str(data_dir / "eval-labelled.jsonl"), "--narratives",
                          str(data_dir / "mini-set.yaml"), "--method", "logistic-head", "--cv", "3"]) == 0  # fmt: skip
    assert "3-fold CV" in (tmp_path / "reports").joinpath(
        sorted(p.name for p in (tmp_path / "reports").glob("*.md"))[-1]).read_text()  # fmt: skip
    bad = ["eval", str(data_dir / "eval-labelled.jsonl"), "--train", str(data_dir / "eval-labelled.jsonl")]  # fmt: skip
    assert main(common + bad) == 2
    assert "--train is the evaluated file" in capsys.readouterr().err


def test_eval_counted_measures_what_the_pipeline_counts(e5, data_dir, tmp_path, capsys):
    """`eval --counted` on the scope fixture: the refutations of ukraine-involved that the matcher
    alone counts as carrying it (their passages are confirmed for it) are not counted; the Syrian
    Islamic State story and the document published after the event's window are out of scope;
    the run records the scope and stance components it applied."""
    common = ["--home", str(tmp_path), "-q"]
    data = ["eval", str(data_dir / "scope-corpus.jsonl"), "--narratives",
            str(data_dir / "scope-set.yaml"), "--out", str(tmp_path / "rep")]  # fmt: skip
    assert main(common + data) == 0
    assert main(common + data + ["--counted"]) == 0
    assert "(what the pipeline counts)" in capsys.readouterr().out
    plain, counted = (json.loads(p.read_text()) for p in
                      sorted((tmp_path / "rep").glob("eval-*.json"), key=lambda p: p.stat().st_mtime))  # fmt: skip
    assert (plain["counted"], counted["counted"]) == (False, True)
    before = plain["metrics"]["all"]["per_narrative"]
    after = counted["metrics"]["all"]["per_narrative"]
    # the two refutations (sc-en-2, sc-uk-1) were false positives of ukraine-involved
    assert before["ukraine-involved"]["precision"] < 1.0 == after["ukraine-involved"]["precision"]
    assert after["ukraine-involved"]["recall"] == 1.0  # sc-en-1 still counted
    # isk-responsible: sc-ru-1 counted; sc-en-4 (after the window) is not, so recall is 1/2
    assert (
        after["isk-responsible"]["recall"] == 0.5 and after["isk-responsible"]["precision"] == 1.0
    )
    with reader(tmp_path / "eval.duckdb") as con:
        comp, params = con.execute("SELECT components, parameters FROM runs WHERE id = ?",
                                   [counted["run_id"]]).fetchall()[0]  # fmt: skip
    comp, params = json.loads(comp), json.loads(params)
    assert comp["stance"].startswith("stance-head") and comp["scope"].startswith("terms+event-head")
    assert params["counted"] is True and params["stance_counter_check"] == "counter-centroid-v1"
    assert (
        main(common + data + ["--counted", "--cv", "3"]) == 2
    )  # the pipeline's own decisions only
    assert "--counted applies the pipeline's own decisions" in capsys.readouterr().err


def test_eval_learned_method_needs_labels(mini_settings, data_dir):
    with pytest.raises(ValueError, match="--train FILE or --cv"):
        run_eval(mini_settings, data_dir / "eval-labelled.jsonl", method="logistic-head")


def test_labelled_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "lang": "en", "labels": []}\n{"text": "x", "labels": "a"}\n')
    with pytest.raises(LabelledDataError, match="line 2: `labels` must be a list"):
        load_labelled(bad)
    with pytest.raises(LabelledDataError, match="does not exist"):
        load_labelled(tmp_path / "none.jsonl")
    # a corpus file with `gold_narratives` is a labelled file too
    corpus = load_labelled(Path(__file__).parent / "data" / "mini-corpus.jsonl")
    assert len(corpus) == 12 and corpus[1].labels == ("isk-responsible",)
    assert corpus[0].labels == ()  # t-en-1 only reports a claim: its gold is a stance, not a label


def test_import_builds_a_valid_set_from_a_taxonomy(data_dir, tmp_path, capsys):
    out = tmp_path / "codebook.yaml"
    args = ["--home", str(tmp_path), "-q", "import", str(data_dir / "taxonomy.json"), "-o", str(out),
            "--exemplars", str(data_dir / "taxonomy-exemplars.jsonl")]  # fmt: skip
    assert main(args) == 0
    assert "2 narratives, 5 exemplars" in capsys.readouterr().out
    nset = load_set(out)
    assert nset.id == "test-codebook-claims-about-a-power-outage"
    sabotage, old = nset.narratives
    assert sabotage.id == "sabotage-caused-the-outage" and sabotage.threshold == 0.8
    assert set(sabotage.exemplars) == {"en", "ru", "uk"}
    assert old.description == old.label and old.threshold == 0.9
    assert old.exemplars["en"] == (
        "The substation failed because its equipment was forty years old.",
    )

    broken = tmp_path / "ex.jsonl"
    broken.write_text('{"narrative": "Nope", "lang": "en", "text": "x"}\n')
    assert main(["--home", str(tmp_path), "import", str(data_dir / "taxonomy.json"), "-o",
                 str(out), "--exemplars", str(broken)]) == 2  # fmt: skip
    assert "'Nope' is not in the taxonomy" in capsys.readouterr().err


def test_import_calibrate_sets_thresholds_from_exemplars(e5, data_dir, tmp_path, capsys):
    out = tmp_path / "calibrated.yaml"
    args = ["--home", str(tmp_path), "-q", "import", str(data_dir / "taxonomy.json"), "-o", str(out),
            "--exemplars", str(data_dir / "taxonomy-exemplars.jsonl"), "--calibrate"]  # fmt: skip
    from narratives.cli import main as cli_main
    from narratives.core.settings import Settings

    assert Settings().scorer == "exemplar-head"  # the default: calibration applies to cosines
    assert cli_main(args) == 2
    assert "cosine scorers" in capsys.readouterr().err
    import os

    os.environ["NARRATIVES_SCORER"] = "max-exemplar"
    try:
        assert cli_main(args) == 0
    finally:
        del os.environ["NARRATIVES_SCORER"]
    thresholds = {n.id: n.threshold for n in load_set(out).narratives}
    assert all(0 < t <= 1 for t in thresholds.values())
    assert thresholds != {"sabotage-caused-the-outage": 0.8, "old-equipment-caused-the-outage": 0.9}


def test_set_background_is_validated_and_versioned(data_dir):
    import yaml

    from narratives.matching.sets import DefinitionError, parse_set

    data = yaml.safe_load((data_dir / "mini-set.yaml").read_text())
    plain = parse_set(data)
    data["background"] = {
        "en": ["Rescuers searched the building."],
        "ru": ["Спасатели обыскали здание."],
    }
    with_bg = parse_set(data)
    assert with_bg.background["ru"] == ("Спасатели обыскали здание.",)
    assert with_bg.version != plain.version
    ids, _, texts = ExemplarBank.texts_of(with_bg)
    assert "Rescuers searched the building." in texts
    assert ids.count(BACKGROUND) == 2 + sum(map(len, generic_background().values()))
    data["background"] = {"english": ["x"]}
    with pytest.raises(DefinitionError, match="background.english"):
        parse_set(data)


def test_cross_validation_keeps_identical_texts_in_one_fold(monkeypatch):
    # two pairs of identical articles (as in SemEval dev): a copy must never train the model
    # that scores its twin, so each pair lands in one fold whatever the seed
    from narratives.evaluation.run import Features, cross_validated

    n = 12
    scores = np.linspace(0, 1, n, dtype=np.float32)[:, None]
    feats = Features(scores=scores, means=np.zeros((n, 4), np.float32))
    gold = (scores >= 0.5).astype(bool)
    groups = ["a", "a", "b", "b", *[f"u{i}" for i in range(n - 4)]]
    seen_folds = []

    def spy(method, test, order, defaults, *, train, train_gold, **kw):
        seen_folds.append((set(test.scores[:, 0].tolist()), set(train.scores[:, 0].tolist())))
        return test.scores >= 0.5, test.scores, {}

    monkeypatch.setattr("narratives.evaluation.run.predict", spy)
    for seed in range(5):
        cross_validated("fitted-thresholds", feats, gold, ["n"], np.array([0.5]), 3,
                        seed=seed, groups=groups)  # fmt: skip
    assert len(seen_folds) == 15
    for pair in ((scores[0, 0], scores[1, 0]), (scores[2, 0], scores[3, 0])):
        for test, train in seen_folds:
            assert not (pair[0] in test and pair[1] in train)
            assert not (pair[1] in test and pair[0] in train)


def test_linear_probe_ceiling_scores_each_language_by_grouped_folds():
    # the quality benchmark's ceiling: separable classes are learned across languages
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from quality import linear_probe_accuracy, probes

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    labels, vectors, groups, langs = [], [], [], []
    for case in range(30):
        k = case % 3
        for lang in ("en", "uk", "ru"):
            labels.append(f"n{k}")
            vectors.append(centres[k] + 0.1 * rng.normal(size=16))
            groups.append(case)
            langs.append(lang)
    acc = linear_probe_accuracy(np.array(vectors), labels, groups, langs, folds=5)
    assert set(acc) == set(probes())
    for per_lang in acc.values():
        assert set(per_lang) == {"en", "uk", "ru"}
        assert all(a == 1.0 for a in per_lang.values())
    # labels that carry no signal stay near chance
    shuffled = list(rng.permutation(labels))
    noise = linear_probe_accuracy(rng.normal(size=(90, 16)), shuffled, groups, langs, folds=5)
    assert all(a < 0.7 for per_lang in noise.values() for a in per_lang.values())
