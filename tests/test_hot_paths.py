"""Issue 15's faster paths give the results of the paths they replaced: embedding sorted over a
whole chunk, dedup of a batch in one join, exemplar cosines as a matrix product, the exemplar
head fitted once per bank, and the embed step's run row timing the model's load apart."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from benchmarks.hot_paths import per_document
from embeddings.base import Embedder, l2_normalise
from narratives.core import runs
from narratives.core.store import reader, writer
from narratives.ingest import dedup
from narratives.ingest.sources.corpus import read_jsonl
from narratives.ingest.store import store_documents
from narratives.matching.bank import BACKGROUND, ExemplarBank, LabelledExamples
from narratives.matching.scorers.cosine import similarities
from narratives.matching.scorers.head import ExemplarHead
from narratives.passages import split as passages_mod
from narratives.vectors.step import embed_step


@pytest.fixture(scope="module")
def demo_docs(data_dir) -> list:
    return list(read_jsonl(data_dir.parent.parent / "data" / "demo" / "corpus.jsonl"))


# --- 1. embedding sorted over the whole chunk ------------------------------------------------
def test_onnx_sorted_over_the_chunk_gives_the_per_32_vectors_in_order(e5, demo_docs):
    texts = [p.text for d in demo_docs[:40] for p in passages_mod.split(d.text)][:200]
    new = e5.embed(texts, "passage", batch_size=32)
    # the old path: embed_batch handed 32 texts at a time, so it sorted only within each 32
    old = l2_normalise(
        np.vstack([e5.embed_batch(texts[s : s + 32], "passage") for s in range(0, len(texts), 32)])
    )
    sims = new @ old.T
    # int8 activations are scaled per batch: each text keeps its own vector, in its own row
    assert np.all(np.diag(sims) > 0.99)
    assert np.all(np.argmax(sims, axis=1) == np.arange(len(texts)))


class SortingStub(Embedder):
    model_id, dim, sorts_by_length = "test/sorting-4", 4, True

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def embed_batch(self, texts, role, batch_size=None):
        self.calls.append((len(texts), batch_size))
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


def test_a_sorting_backend_gets_the_whole_chunk_and_the_batch_size():
    stub = SortingStub()
    texts = [f"text {'x' * i}" for i in range(100)]
    out = stub.embed(texts, batch_size=8)
    assert stub.calls == [(100, 8)]
    assert np.allclose(out, l2_normalise(np.array([[len(t), 1, 0, 0] for t in texts], "f4")))


# --- 2. dedup of a batch in one join ---------------------------------------------------------
def test_batch_dedup_decides_as_the_per_document_path(tmp_path, demo_docs):
    stored, later = demo_docs[:150], demo_docs[150:]
    with writer(tmp_path / "d.duckdb") as con:
        store_documents(con, "demo", stored)  # band keys and stored reprints of the first part
        texts = [d.text for d in later]
        # copies of stored documents (exact: case and spacing; near: a new first line, an
        # emoji), a copy of a document earlier in the same batch, and a text too short for MinHash
        texts += [stored[5].text.upper(), "BREAKING 🔴 " + stored[60].text,
                  "Updated: " + later[3].text.replace(".", "!"), later[10].text, "Too short."]  # fmt: skip
        batch = [(10_000 + i, t) for i, t in enumerate(texts)]
        old = per_document(con, batch)
        new = dedup.Deduper(con).find_all(batch)
    assert new == old
    kinds = {c.kind for c in new.values()}
    assert kinds == {"exact", "near"} and len(new) >= 4
    assert new[10_000 + len(later)].original_id < 10_000  # the upper-cased copy: a stored original
    assert new[10_000 + len(later) + 3] == dedup.Copy(10_000 + 10, "exact", 1.0)  # in-batch


def test_demo_reprints_found_in_one_batch_match_across_two(tmp_path, demo_docs):
    """The same corpus stored in one batch and in two gives the same reprint edges."""

    def edges(path, parts):
        with writer(path) as con:
            for part in parts:
                store_documents(con, "demo", part)
            return con.execute(
                "SELECT o.external_id, c.external_id, r.kind FROM reprints r JOIN documents o "
                "ON o.id = r.original_id JOIN documents c ON c.id = r.reprint_id ORDER BY 2"
            ).fetchall()

    ordered = sorted(demo_docs, key=lambda d: d.published_at)
    one = edges(tmp_path / "one.duckdb", [ordered])
    two = edges(tmp_path / "two.duckdb", [ordered[:60], ordered[60:]])
    assert one == two and len(one) == 3


# --- 3. exemplar cosines as a matrix product, the head fitted once per bank ------------------
def _bank(rng, labelled: bool = False) -> ExemplarBank:
    ids = ["a"] * 6 + ["b"] * 6 + [BACKGROUND] * 4
    vectors = l2_normalise(rng.normal(size=(len(ids), 32)).astype(np.float32))
    extra = None
    if labelled:
        lv = l2_normalise(rng.normal(size=(6, 32)).astype(np.float32))
        extra = LabelledExamples(
            lv, ["a", "a", "b", "b", "a", "b"], np.array([1, 0, 1, 0, 1, 1], bool),
            np.zeros(6, bool), [""] * 6, ["asserts", "no", "reports", "no", "refutes", "asserts"],
            [f"doc{i}" for i in range(6)], {}, "fp",
        )  # fmt: skip
    return ExemplarBank(ids, ["en"] * len(ids), [str(i) for i in range(len(ids))], vectors, extra)


def test_cosines_as_a_matrix_product_equal_the_faiss_search():
    import faiss

    rng = np.random.default_rng(0)
    bank = _bank(rng)
    passages = l2_normalise(rng.normal(size=(500, 32)).astype(np.float32))
    index = faiss.IndexFlatIP(32)
    index.add(bank.vectors)
    sims, rows = index.search(passages, len(bank.texts))
    want = np.empty_like(sims)
    np.put_along_axis(want, rows, sims, axis=1)
    assert np.allclose(similarities(passages, bank), want, atol=1e-6)


@pytest.mark.parametrize("labelled", [False, True])
def test_the_head_is_fitted_once_per_bank_with_the_fit_it_had_per_chunk(labelled):
    rng = np.random.default_rng(1)
    bank = _bank(rng, labelled)
    passages = l2_normalise(rng.normal(size=(300, 32)).astype(np.float32))
    head = ExemplarHead()
    whole, _ = head.score(passages, bank, ["a", "b"])
    models = head._heads(bank, ["a", "b"])
    chunks = [head.score(passages[s : s + 100], bank, ["a", "b"])[0] for s in (0, 100, 200)]
    assert head._heads(bank, ["a", "b"]) is models  # not refitted for the chunks
    assert np.allclose(np.vstack(chunks), whole, atol=1e-6)
    fresh, _ = ExemplarHead().score(passages, bank, ["a", "b"])  # a fit of its own
    assert np.allclose(fresh, whole, atol=1e-6)


def test_the_head_is_refitted_when_the_bank_or_its_labels_change():
    rng = np.random.default_rng(2)
    bank = _bank(rng, labelled=True)
    passages = l2_normalise(rng.normal(size=(50, 32)).astype(np.float32))
    head = ExemplarHead()
    head.score(passages, ExemplarBank(bank.narrative_ids, bank.langs, bank.texts, bank.vectors),
               ["a", "b"])  # fmt: skip
    plain = ExemplarBank(bank.narrative_ids, bank.langs, bank.texts, bank.vectors)
    before, _ = head.score(passages, plain, ["a", "b"])
    plain.labelled = bank.labelled  # as the match step sets it after building the bank
    after, _ = head.score(passages, plain, ["a", "b"])
    want, _ = ExemplarHead().score(passages, bank, ["a", "b"])
    assert np.allclose(after, want, atol=1e-6) and not np.allclose(before, after)


# --- 4. the embed step times the model's load apart from inference ---------------------------
class LazyStub(Embedder):
    model_id, dim = "test/lazy-8", 8

    def __init__(self):
        self.loaded = False

    def load(self):
        if self.loaded:
            return {}
        self.loaded = True
        time.sleep(0.3)  # a slow load, which must not show in embed_s
        return {"model_build_s": 0.0, "model_load_s": 0.3}

    def embed_batch(self, texts, role):
        assert self.loaded, "the step loads the model before it times inference"
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_the_embed_run_row_has_the_model_load_apart_from_embedding(mini_settings):
    with writer(mini_settings.database) as con:
        store_documents(con, "mini", read_jsonl(mini_settings.corpus))
        run_id = runs.start_run(con, "embed")
    stub = LazyStub()
    embed_step(mini_settings, run_id, stub)
    with reader(mini_settings.database) as con:
        timings = json.loads(
            con.execute("SELECT timings FROM runs WHERE id = ?", [run_id]).fetchall()[0][0]
        )
    assert {"model_build_s", "model_load_s", "embed_s", "passages_per_s"} <= set(timings)
    assert timings["model_load_s"] >= 0.3 > timings["embed_s"]
    assert timings["embed_step_s"] >= 0.3
