"""The match step: every stored passage with a vector and no decision yet for the live set
version and model is scored by the configured scorer; its top narratives are stored in
`matches` with decision and evidence, and `matchings` names the (set version, model) that
prevalence reads. Idempotent: matches are keyed by (passage, set version, model).

A scorer that learns from analysts' labels gets them from `labelled` (a function of the write
connection, set id and model id, given by the pipeline: the labels stage comes after this one).
When the labels it learnt from change, or the scorer or the scope and stance parameters
(`Settings.stance_counter_check`...), every live match is scored again: `matchings.training` holds
a hash of what the live matches were made with.

The scorer, its bank and the scope and stance judges are fitted once here (`Matcher`); the
passages are then scored in partitions of whole documents by `match_partition`, a function of
an Arrow table (ids, texts, vectors) that never opens the database, in this process or on Dask
workers (narratives.core.parallel); this step stores each partition's decisions in order."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from embeddings.base import Embedder
from narratives.core import runs
from narratives.core.parallel import InProcess, Partitions
from narratives.core.settings import Settings
from narratives.core.store import transaction, writer
from narratives.matching.bank import ExemplarBank, LabelledExamples, embed_bank
from narratives.matching.base import Decision, Scorer, get_scorer
from narratives.matching.judges import Judgement, Judges
from narratives.matching.judges import parameters as judge_parameters
from narratives.matching.sets import NarrativeSet, load_set
from narratives.vectors import store as vector_store
from narratives.vectors.step import load_embedder

log = logging.getLogger("narratives.match")

# passages per partition: scoring costs ~1 ms per 100 passages, so partitions are large (the
# cost of shipping one to a worker stays small beside it); whole documents, so about this many
MATCH_CHUNK = 4096


def register_set(con, nset: NarrativeSet) -> None:
    """Store a set version's definition once; later runs of the same version find it there."""
    exists = con.execute(
        "SELECT count(*) FROM narrative_sets WHERE set_id = ? AND version = ?",
        [nset.id, nset.version],
    ).fetchall()[0][0]
    if exists:
        return
    with transaction(con):
        con.execute(
            "INSERT INTO narrative_sets (set_id, version, title, event_date, source_path, definition) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [nset.id, nset.version, nset.title, nset.event_date, str(nset.path or ""),
             json.dumps(nset.to_dict(), ensure_ascii=False)],
        )  # fmt: skip
        for n in nset.narratives:
            con.execute(
                "INSERT INTO narratives VALUES (?, ?, ?, ?, ?, ?, ?)",
                [nset.id, nset.version, n.id, n.label, n.description, n.threshold, n.version],
            )
            for lang, texts in n.exemplars.items():
                for seq, text in enumerate(texts):
                    con.execute(
                        "INSERT INTO exemplars VALUES (?, ?, ?, ?, ?, ?)",
                        [nset.id, nset.version, n.id, lang, seq, text],
                    )


Labelled = Callable[..., LabelledExamples | None]


def match_step(settings: Settings, run_id: int, embedder: Embedder | None = None,
               labelled: Labelled | None = None, partitions: Partitions | None = None
               ) -> dict:  # fmt: skip
    embedder = embedder or load_embedder(settings.model, settings.models_dir)
    nset = load_set(settings.narrative_set)
    scorer = get_scorer(settings.scorer, settings)
    started = time.perf_counter()
    written = 0
    with writer(settings.database, settings.lock_wait_s) as con:
        register_set(con, nset)
        bank, exemplars_new = embed_bank(con, nset, embedder)
        if labelled is not None and scorer.learns_from_labels:
            bank.labelled = labelled(con, nset.id, embedder.model_id)
        # the live matches are scored again when what they were judged with changes: the labels
        # the scorer learnt from, or the scorer and the scope/stance parameters
        training = _training_key(bank.labelled.fingerprint if bank.labelled is not None else None,
                                 settings)  # fmt: skip
        rescored = _forget_if_retrained(con, nset, embedder.model_id, training)
        todo = con.execute(
            "SELECT p.id, p.text_hash, p.text, p.document_id FROM passages p "
            "JOIN embeddings e ON e.text_hash = p.text_hash AND e.model_id = $model "
            "WHERE NOT EXISTS (SELECT 1 FROM matches m WHERE m.passage_id = p.id AND m.set_id = $set "
            "AND m.set_version = $version AND m.model_id = $model) ORDER BY p.id",
            {"model": embedder.model_id, "set": nset.id, "version": nset.version},
        ).fetchall()
        store_s, judges_new, calibration = 0.0, 0, {}
        # nothing to score (a re-run with nothing new): the heads are not fitted at all
        if todo:
            judges, judges_new = Judges.fit(con, nset, embedder, settings, bank.labelled)
            calibration = _calibration(judges)
            scorer.prepare(bank, nset)  # fitted once, here: workers get it fitted
            matcher = Matcher(scorer, bank, nset, judges, settings.top_k_matches)
            parts = (
                _partition(con, chunk, embedder.model_id)
                for chunk in _by_whole_documents(todo, MATCH_CHUNK)
            )
            for ids, decisions, judged in (partitions or InProcess()).map(
                match_partition, parts, matcher=matcher
            ):
                stored = time.perf_counter()
                with transaction(con):
                    written += _insert_matches(con, ids, decisions, judged, nset,
                                               embedder.model_id, run_id)  # fmt: skip
                    _insert_scope(con, ids, judged, judges.threshold, nset, embedder.model_id,
                                  run_id)  # fmt: skip
                store_s += time.perf_counter() - stored  # the writer's own share (docs/scale.md)
        con.execute(
            "INSERT OR REPLACE INTO matchings (set_id, set_version, model_id, run_id, updated_at, "
            "training) VALUES (?, ?, ?, ?, current_timestamp, ?)",
            [nset.id, nset.version, embedder.model_id, run_id, training],
        )
        confirmed = dict(con.execute(
            "SELECT coalesce(stance, 'asserts'), count(*) FROM matches WHERE run_id = ? "
            "AND decision = 'confirmed' GROUP BY 1", [run_id]).fetchall())  # fmt: skip
        counts = {
            "passages_matched": len(todo),
            "matches_new": written,
            "confirmed_new": sum(confirmed.values()),
            "confirmed_new_by_stance": confirmed,
            "exemplar_embeddings_new": exemplars_new + judges_new,
            "labels_used": bank.labelled.counts if bank.labelled is not None else {},
            "rescored_for_labels": rescored,
            "stance_calibration": calibration,
        }
        runs.update_run(
            con, run_id, counts=counts,
            timings={"match_s": time.perf_counter() - started, "match_store_s": store_s},
            model_id=embedder.model_id, set_id=nset.id, set_version=nset.version,
        )  # fmt: skip
    # begins with the match flow's summary, word for word: the CLI's console prints it once
    log.info(
        "match: %d passages scored, %d confirmed, against %s@%s",
        len(todo),
        sum(confirmed.values()),
        nset.id,
        nset.version,
    )
    return counts


@dataclass
class Matcher:
    """Everything a partition is scored with, fitted once per match step: pickled whole to a
    Dask worker (the scorer's fitted heads keep pointing at this bank)."""

    scorer: Scorer
    bank: ExemplarBank
    nset: NarrativeSet
    judges: Judges
    top_k: int


def match_partition(part: pa.Table, *, matcher: Matcher
                    ) -> tuple[list[int], list[list[Decision]], Judgement]:  # fmt: skip
    """(passage ids, each passage's top narratives, scope and stance) for a partition of
    (passage_id, document_id, text, vector), whole documents in id order."""
    vectors = vector_store.vectors_from_arrow(part.column("vector"))
    texts = part.column("text").to_pylist()
    decisions = matcher.scorer.decide(vectors, matcher.bank, matcher.nset, top_k=matcher.top_k)
    # a passage's stance context: its neighbours in the document that speak of the same
    # narrative (its best-scoring one), not a rival's refutation in the next sentence
    keys = [
        (doc, row[0].narrative_id if row else None)
        for doc, row in zip(part.column("document_id").to_pylist(), decisions, strict=True)
    ]
    asked = [[d.narrative_id for d in row] for row in decisions]
    judged = matcher.judges.judge(vectors, texts, keys, asked)
    return part.column("passage_id").to_pylist(), decisions, judged


def _partition(con, chunk: list[tuple], model_id: str) -> pa.Table:
    """A partition's input, read by the writer: what a worker needs and nothing more."""
    vectors = vector_store.get(con, model_id, [r[1] for r in chunk])
    return pa.table({
        "passage_id": pa.array([r[0] for r in chunk], pa.int64()),
        "document_id": [r[3] for r in chunk],
        "text": [r[2] for r in chunk],
        "vector": vector_store.vectors_to_arrow(vectors),
    })  # fmt: skip


def _calibration(judges: Judges) -> dict:
    """What the stance head's calibration on analysts' verdicts did, for the run record."""
    head = judges.stance_head
    if not head.calibrated_on:
        return {}
    log.info("stance: the 'asserts' decision moved by %+.3f in log-odds, where missed claims and "
             "counted refutations are equally frequent among the %d (document, narrative) pairs "
             "analysts judged", head.bias, head.calibrated_on)  # fmt: skip
    return {"asserts_bias": round(float(head.bias), 4), "labelled_pairs": head.calibrated_on}


def _training_key(labels: str | None, settings: Settings) -> str:
    """What the live matches were made with, for `matchings.training`: a hash of the labels'
    fingerprint, the scorer's name and the judges' parameters."""
    import hashlib

    what = {"labels": labels, "scorer": settings.scorer, "judges": judge_parameters(settings)}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def _forget_if_retrained(con, nset: NarrativeSet, model_id: str, training: str | None) -> int:
    """When the labels the scorer learns from changed since the live matches of this set
    version were made, drop those matches so that they are all scored again; returns how many."""
    live = con.execute(
        "SELECT training FROM matchings WHERE set_id = ? AND set_version = ? AND model_id = ?",
        [nset.id, nset.version, model_id],
    ).fetchall()
    if not live or live[0][0] == training:
        return 0
    where = "WHERE set_id = ? AND set_version = ? AND model_id = ?"
    params = [nset.id, nset.version, model_id]
    n = con.execute(f"SELECT count(DISTINCT passage_id) FROM matches {where}", params).fetchall()
    with transaction(con):
        con.execute(f"DELETE FROM matches {where}", params)
    log.info("match: the labels or the scope/stance settings changed; scoring %d passages again",
             n[0][0])  # fmt: skip
    return n[0][0]


def _by_whole_documents(rows: list[tuple], size: int):
    """Chunks of about `size` rows (id order) that never cut a document in two: a passage's
    stance is judged with its neighbours in the document."""
    start = 0
    while start < len(rows):
        end = min(start + size, len(rows))
        while end < len(rows) and rows[end][3] == rows[end - 1][3]:
            end += 1
        yield rows[start:end]
        start = end


def _insert_matches(
    con, passage_ids, decisions, judged: Judgement, nset: NarrativeSet, model_id: str, run_id: int
) -> int:
    cols: dict[str, list] = {k: [] for k in ("passage_id", "narrative_id", "rank", "score", "threshold",
                                             "exemplar_text", "exemplar_lang", "margin", "decision",
                                             "stance", "stance_score")}  # fmt: skip
    for i, (pid, row) in enumerate(zip(passage_ids, decisions, strict=True)):
        for d in row:
            cols["passage_id"].append(pid)
            cols["stance"].append(judged.stance(i, d.narrative_id))
            cols["stance_score"].append(float(judged.stance_scores[i]))
            for key in ("narrative_id", "rank", "score", "threshold", "exemplar_text", "exemplar_lang",
                        "margin", "decision"):  # fmt: skip
                cols[key].append(getattr(d, key))
    n = len(cols["passage_id"])
    table = pa.table(
        cols
        | {
            "passage_id": pa.array(cols["passage_id"], pa.int64()),
            "set_id": [nset.id] * n,
            "set_version": [nset.version] * n,
            "model_id": [model_id] * n,
            "run_id": pa.array([run_id] * n, pa.int64()),
        }
    )
    _insert_or_replace(con, "matches", table)
    return n


def _insert_scope(con, passage_ids, judged: Judgement, threshold, nset, model_id, run_id) -> None:
    """One passage_scope row per passage: key-term hit and event score (document_scope decides)."""
    n, scores = len(passage_ids), judged.event_scores
    table = pa.table({
        "passage_id": pa.array(passage_ids, pa.int64()),
        "set_id": [nset.id] * n, "set_version": [nset.version] * n, "model_id": [model_id] * n,
        "term_hit": pa.array(judged.term_hits.tolist(), pa.bool_()),
        "event_score": pa.nulls(n, pa.float64()) if scores is None
        else pa.array(scores.tolist(), pa.float64()),
        "threshold": pa.array([threshold] * n, pa.float64()),
        "run_id": pa.array([run_id] * n, pa.int64()),
    })  # fmt: skip
    _insert_or_replace(con, "passage_scope", table)


def _insert_or_replace(con, target: str, table: pa.Table) -> None:
    """One bulk upsert of an Arrow table into `target` (a table of this stage), by column name."""
    con.register("_rows", table)
    try:
        con.execute(f"INSERT OR REPLACE INTO {target} BY NAME SELECT * FROM _rows")
    finally:
        con.unregister("_rows")
