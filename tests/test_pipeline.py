"""The whole pipeline on the tiny multilingual corpus with the real e5-small model."""

import json
from pathlib import Path

import pytest

from narratives import pipeline
from narratives.core.settings import Settings
from narratives.core.store import reader
from narratives.matching.queries import gold_agreement
from narratives.prevalence.queries import prevalence
from narratives.vectors.index import VectorIndex, index_path_for
from narratives.vectors.search import search, search_each_language
from narratives.vectors.step import embed_step


@pytest.fixture
def first_run(mini_settings, e5):
    return pipeline.run_pipeline(mini_settings, e5)


def _count(settings, table):
    with reader(settings.database) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_run_records_components_counts_and_model(first_run, mini_settings, e5):
    run = first_run
    assert run["status"] == "ok" and run["kind"] == "pipeline"
    assert run["model_id"] == e5.model_id
    assert run["set_id"] == "mini" and len(run["set_version"]) == 12
    assert (
        run["components"]["embedder"] == "e5-small"
        and run["components"]["scorer"] == mini_settings.scorer == "exemplar-head"
    )
    assert run["parameters"]["max_passage_words"] == mini_settings.max_passage_words
    counts = run["counts"]
    assert counts["documents_new"] == 12 and counts["errors"] == 0
    assert counts["passages_new"] == _count(mini_settings, "passages") >= 12
    assert (
        counts["embeddings_new"]
        == _count(mini_settings, "embeddings WHERE model_id <> ''")
        - counts["exemplar_embeddings_new"]
    )
    assert run["timings"]["passages_per_s"] > 0


def test_second_run_adds_nothing_and_embeds_nothing(first_run, mini_settings, e5):
    before = {
        t: _count(mini_settings, t) for t in ("documents", "passages", "embeddings", "matches")
    }
    second = pipeline.run_pipeline(mini_settings, e5)
    c = second["counts"]
    assert (c["documents_new"], c["passages_new"], c["embeddings_new"], c["matches_new"]) == (
        0,
        0,
        0,
        0,
    )
    assert c["documents_seen"] == 12
    assert {t: _count(mini_settings, t) for t in before} == before


def _base_rates(con) -> dict[str, float]:
    """Each narrative's share of gold-labelled documents: the precision of a matcher that
    confirms every document, which a real matcher must beat by far."""
    docs = con.execute("SELECT gold_labels FROM documents WHERE gold_labels IS NOT NULL").fetchall()
    labels = [set(g or []) for (g,) in docs]
    names = set().union(*labels)
    return {n: sum(n in g for g in labels) / len(labels) for n in names}


def test_decisions_agree_with_the_gold_labels(first_run, mini_settings):
    """On the tiny fixture: the matcher, within the event's scope, confirms at least three in
    four of each narrative's gold documents; counted as carrying (the stance asserts) are at
    least half, with precision at least twice the narrative's share. The stance bar is the demo
    test's: "IS said its fighters attacked the hall" is an attribution whose stance sits at a
    probability of 0.50-0.62 in RU and UK, so a bar of 4 in 5 would test rounding."""
    with reader(mini_settings.database) as con:
        scores = {a.narrative: a for a in gold_agreement(con)}
        base = _base_rates(con)
        confirmed = dict(con.execute(
            """SELECT m.narrative_id, count(DISTINCT d.id) FROM live_matches m
               JOIN documents d ON d.id = m.document_id
               WHERE m.decision = 'confirmed' AND list_contains(d.gold_labels, m.narrative_id)
               GROUP BY 1""").fetchall())  # fmt: skip
    assert set(scores) == {"ukraine-involved", "isk-responsible"}
    for name, a in scores.items():
        assert confirmed.get(name, 0) >= 0.75 * (a.tp + a.fn), (name, confirmed, a)
        assert a.recall >= 0.5 and a.precision >= min(1.0, 2 * base[name]), (name, a, base)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, e5):
    """The demo corpus through the pipeline with the shipped defaults (set, scorer, passages)."""
    corpus = Path(__file__).resolve().parents[1] / "data" / "demo" / "corpus.jsonl"
    settings = Settings(home=tmp_path_factory.mktemp("demo") / "var", corpus=corpus,
                        progress=False, lock_wait_s=5)  # fmt: skip
    return settings, pipeline.run_pipeline(settings, e5)


def test_the_demo_agrees_with_its_gold_labels_in_precision_and_recall(demo_run):
    """On the demo corpus (232 documents written with gold labels), every narrative is found
    with recall >= 0.5 and precision at least twice its share of documents: a matcher that
    confirmed everything (precision = that share) or nothing (recall 0) fails. Why 0.5: the
    same model run three numerically equivalent ways (ONNX fp32, int8, int8 with eager
    attention) gives western-blackmail recall 0.650 / 0.725 / 0.575 on its 40 gold documents;
    a bar at 0.7 tested the rounding of the default backend, not the matcher."""
    settings, run = demo_run
    assert run["status"] == "ok" and run["counts"]["documents_new"] == 232
    with reader(settings.database) as con:
        scores = {a.narrative: a for a in gold_agreement(con)}
        base = _base_rates(con)
    assert set(scores) == {"isk-responsible", "ukraine-involved", "western-blackmail"}
    for name, a in scores.items():
        assert a.recall >= 0.5, (name, a)
        assert a.precision >= 2 * base[name], (name, a.precision, base[name])


def test_the_demos_refutations_and_reports_are_not_counted_as_carrying(demo_run):
    """The demo's documents that only refute or neutrally report a narrative (gold_stance, 66
    pairs in EN/RU/UK) are, with the shipped defaults, stored with that stance and not counted.
    Counted before stance existed: 24 of 63 pairs; by the stance head alone 18 of 66; with the
    defaults (context 2, counter check) 1 of 66 (docs/trust.md). The bar, a tenth, leaves room
    for the model's rounding, not for the head alone."""
    from narratives.matching.queries import stance_agreement

    settings, _ = demo_run
    with reader(settings.database) as con:
        rows = stance_agreement(con)
    pairs = sum(r[2] for r in rows)
    counted = sum(r[3] for r in rows)
    assert pairs == 66
    assert counted <= 0.1 * pairs, rows
    # most are confirmed for the narrative and carry the gold stance: judged, not just missed
    assert sum(r[4] for r in rows) >= 0.5 * pairs, rows


def test_twenty_labels_typed_on_the_demo_change_its_prevalence_and_outlive_reruns(
    demo_run, tmp_path, e5
):
    """The review CLI on the demo, its stdin a real pipe: 20 audit items of ukraine-involved
    answered from the corpus's gold labels. The narrative gets a corrected share (the raw one
    stays), and the labels survive a re-run of the demo and a new version of the set."""
    import os
    import shutil
    import subprocess
    import sys

    from narratives.labels.queries import label_counts
    from narratives.labels.queue import next_items
    from narratives.prevalence.corrected import corrected_rows

    src, _ = demo_run
    settings = src.replace(home=tmp_path / "var")
    shutil.copytree(src.home, settings.home)
    nid = "ukraine-involved"
    with reader(settings.database) as con:
        gold = dict(con.execute("SELECT content_hash, gold_labels FROM documents").fetchall())
        before = {r["narrative_id"]: r for r in corrected_rows(con, by="total", split_lang=False)}
        items = next_items(con, "audit", [], nid, 20)  # what the CLI will serve, in order
    answers = "".join("a\n" if nid in (gold[i["document_hash"]] or []) else "n\n" for i in items)
    out = subprocess.run(
        [sys.executable, "-m", "narratives", "--home", str(settings.home), "review",
         "--narrative", nid, "--limit", "20", "--who", "demo-analyst"],
        input=answers, capture_output=True, text=True, timeout=300,
        env=os.environ | {"NARRATIVES_PROGRESS": "false"},
    )  # fmt: skip
    assert out.returncode == 0 and "stored 20 new label(s)" in out.stdout, out.stderr
    with reader(settings.database) as con:
        after = {r["narrative_id"]: r for r in corrected_rows(con, by="total", split_lang=False)}
    assert before[nid]["corrected"] is None and before[nid]["audit_labels"] == 0
    assert after[nid]["audit_labels"] == 20 and after[nid]["corrected"] is not None
    assert after[nid]["share"] == before[nid]["share"]  # the raw count is still shown
    assert after[nid]["corrected_lo"] <= after[nid]["corrected"] <= after[nid]["corrected_hi"]
    assert all(after[n]["corrected"] is None for n in after if n != nid)  # the others: too few
    with reader(settings.database) as con:  # the same, stored for analysts' SQL by the sync
        stored = con.execute(
            "SELECT corrected, audit_labels FROM prevalence_corrected WHERE period_kind = 'total' "
            "AND lang = 'all' AND narrative_id = ?", [nid]).fetchall()  # fmt: skip
    assert stored == [(after[nid]["corrected"], 20)]

    # `make demo` again, then a new version of the set: the 20 labels stay and still correct
    pipeline.run_pipeline(settings, e5)
    changed = tmp_path / "crocus-v2.yaml"
    text = Path(settings.narrative_set).read_text(encoding="utf-8")
    changed.write_text(text.replace("title:", "title: (v2)", 1), encoding="utf-8")
    pipeline.run_pipeline(settings.replace(narrative_set=changed), e5)
    with reader(settings.database) as con:
        assert sum(r[3] for r in label_counts(con) if r[0] == nid) == 20
        rows = {r["narrative_id"]: r for r in corrected_rows(con, by="total", split_lang=False)}
        versions = con.execute("SELECT count(DISTINCT version) FROM narrative_sets").fetchall()
    assert versions[0][0] == 2 and rows[nid]["audit_labels"] == 20
    assert rows[nid]["corrected"] is not None


def test_analysts_stance_verdicts_calibrate_the_asserts_decision_and_the_run_records_it(
    demo_run, tmp_path, e5
):
    """Analysts give stance verdicts (the review queue's uncertain stream) on the demo's
    confirmed passages, from the corpus's gold: `refutes` where the document's gold stance says
    so, `asserts` where the document carries the narrative. With 20 (document, narrative)
    pairs of each or more, the stance head measures by cross-validation grouped by document
    where missed claims and counted refutations are equally frequent, moves its decision there,
    and the run records the move; a re-run with the same labels changes nothing."""
    import shutil

    from narratives.labels.inbox import Journal
    from narratives.labels.model import now
    from narratives.labels.queue import label_for, next_items

    src, _ = demo_run
    settings = src.replace(home=tmp_path / "var")
    shutil.copytree(src.home, settings.home)
    with reader(settings.database) as con:
        gold = {h: (g or [], json.loads(s) if s else {}) for h, g, s in con.execute(
            "SELECT content_hash, gold_labels, meta->>'gold_stance' FROM documents").fetchall()}  # fmt: skip
        items = next_items(con, "uncertain", [], n=1000)
    journal = Journal(settings.labels_dir, "hal")
    pairs = {"asserts": set(), "refutes": set()}
    for item in items:
        narratives, stances = gold[item["document_hash"]]
        nid = item["narrative_id"]
        verdict = stances.get(nid) or ("asserts" if nid in narratives else None)
        if item["decision"] == "confirmed" and verdict in pairs:
            journal.append(label_for(item, verdict, "hal", now()))
            pairs[verdict].add((item["document_hash"], nid))
    assert min(len(p) for p in pairs.values()) >= 20, {k: len(p) for k, p in pairs.items()}
    run = pipeline.run_pipeline(settings, e5)
    assert run["parameters"]["stance_calibration"] == "equal-error-cv-v1"
    calibration = run["counts"]["stance_calibration"]
    assert calibration["labelled_pairs"] == sum(len(p) for p in pairs.values())
    assert calibration["asserts_bias"] != 0.0  # measured, not the default
    with reader(settings.database) as con:  # what the run row keeps for analysts' SQL
        stored = con.execute(
            "SELECT counts->'stance_calibration'->>'asserts_bias' FROM runs WHERE id = ?",
            [run["id"]]).fetchall()  # fmt: skip
    assert float(stored[0][0]) == calibration["asserts_bias"]
    again = pipeline.run_pipeline(settings, e5)["counts"]
    assert again["rescored_for_labels"] == 0 and again["stance_calibration"] == {}


def test_an_audit_by_a_truthful_analyst_moves_the_demo_prevalence_toward_the_truth(
    demo_run, tmp_path
):
    """An analyst audits 30 documents per narrative of the demo (the review queue's audit
    stream) and answers from the corpus's gold labels: every narrative's 95% interval holds the
    gold share. Then the analyst audits the rest of the audit population: the corrected share is
    the gold share. (Whether 30 labels bring the estimate nearer the truth than the raw count
    depends on how biased the raw count is: with the counter-exemplar check it is 0.04-0.08 off,
    within the noise of 30 labels, so that is not asserted.)"""
    import shutil

    from narratives.labels.inbox import Journal, all_labels
    from narratives.labels.model import now
    from narratives.labels.queue import label_for, next_items
    from narratives.prevalence.corrected import corrected_rows

    src, _ = demo_run
    settings = src.replace(home=tmp_path / "var")
    shutil.copytree(src.home, settings.home)
    journal = Journal(settings.labels_dir, "truthful")
    with reader(settings.database) as con:
        gold = dict(con.execute("SELECT content_hash, gold_labels FROM documents").fetchall())
        in_scope = [h for (h,) in con.execute(
            "SELECT d.content_hash FROM document_scope s JOIN documents d ON d.id = s.document_id "
            "WHERE s.in_scope").fetchall()]  # fmt: skip
        for item in next_items(con, "audit", [], n=90):
            verdict = (
                "asserts" if item["narrative_id"] in (gold[item["document_hash"]] or []) else "no"
            )
            journal.append(label_for(item, verdict, "truthful", now()))
    assert pipeline.run_labels(settings)["counts"]["labels_new"] == 90
    with reader(settings.database) as con:
        rows = corrected_rows(con, by="total", split_lang=False)
    truth = {}
    for r in rows:
        truth[r["narrative_id"]] = sum(
            r["narrative_id"] in (gold[h] or []) for h in in_scope
        ) / len(in_scope)
        assert r["audit_labels"] == 30 and r["corrected"] is not None, r
        assert r["corrected_lo"] <= truth[r["narrative_id"]] <= r["corrected_hi"], (r, truth)
    assert len(rows) == 3
    with reader(settings.database) as con:
        rest = next_items(con, "audit", all_labels(settings.labels_dir), n=10_000)
    for item in rest:
        verdict = "asserts" if item["narrative_id"] in (gold[item["document_hash"]] or []) else "no"
        journal.append(label_for(item, verdict, "truthful", now()))
    assert pipeline.run_labels(settings)["counts"]["labels_new"] == len(rest) > 0
    with reader(settings.database) as con:
        rows = corrected_rows(con, by="total", split_lang=False)
    raw_err = [abs(r["share"] - truth[r["narrative_id"]]) for r in rows]
    assert all(r["corrected"] == pytest.approx(truth[r["narrative_id"]]) for r in rows), (
        rows,
        truth,
    )
    assert sum(raw_err) > 0


def test_prevalence_counts_and_denominators(first_run, mini_settings):
    with reader(mini_settings.database) as con:
        headers, rows = prevalence(con, "total")
        totals = con.execute(
            "SELECT lang, sum(total_documents) FROM coverage_daily GROUP BY 1 ORDER BY 1"
        ).fetchall()
        by_hand = con.execute(
            "SELECT count(DISTINCT document_id) FROM live_matches WHERE narrative_id = 'isk-responsible' "
            "AND decision = 'confirmed' AND in_scope AND stance = 'asserts'"
        ).fetchall()[0][0]
    assert totals == [("en", 4), ("ru", 4), ("uk", 4)]
    row = dict(zip(headers, next(r for r in rows if r[1] == "isk-responsible"), strict=True))
    assert row["all_docs"] == by_hand >= 3
    assert row["all_pct"] == pytest.approx(round(100 * by_hand / 12, 1))


def test_english_query_finds_russian_and_ukrainian_passages(first_run, mini_settings, e5):
    hits = search(
        mini_settings.database,
        mini_settings.index_dir,
        e5,
        "Ukraine organised the concert hall attack",
        k=5,
    )
    assert {"ru", "uk"} <= {h["lang"] for h in hits}
    ru_only = search(
        mini_settings.database,
        mini_settings.index_dir,
        e5,
        "Ukraine organised the attack",
        k=3,
        lang="ru",
    )
    assert [h["lang"] for h in ru_only] == ["ru"] * 3


def test_each_language_search_takes_every_languages_best_in_turns(first_run, mini_settings, e5):
    hits = search_each_language(
        mini_settings.database, mini_settings.index_dir, e5, "Islamic State claimed the attack", 2
    )
    assert len(hits) == 6
    assert {h["lang"] for h in hits[:3]} == {"en", "ru", "uk"}
    assert {h["lang"] for h in hits[3:]} == {"en", "ru", "uk"}


def test_index_is_rebuilt_from_duckdb_when_missing(first_run, mini_settings, e5):
    path = index_path_for(mini_settings.index_dir, e5.model_id)
    path.unlink()
    with pipeline.recorded_run(mini_settings, "embed") as run:
        counts = embed_step(mini_settings, run.id, e5)
    assert counts["embeddings_new"] == 0
    assert VectorIndex.load(path, e5.model_id).count() == _count(mini_settings, "passages")


def test_a_bad_line_is_recorded_and_skipped(mini_settings, e5, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    lines = (mini_settings.corpus).read_text(encoding="utf-8").splitlines()
    corpus.write_text(
        "\n".join([lines[0], "{not json", json.dumps({"id": "x", "text": ""}), lines[1]]) + "\n"
    )
    settings = mini_settings.replace(corpus=corpus)
    run = pipeline.run_pipeline(settings, e5)
    assert run["counts"]["documents_new"] == 2 and run["counts"]["errors"] == 2
    with reader(settings.database) as con:
        reasons = [
            r[0] for r in con.execute("SELECT reason FROM ingest_errors ORDER BY id").fetchall()
        ]
    assert reasons[0].startswith("not valid JSON") and "no text" in reasons[1]
