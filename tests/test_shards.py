"""The sharded IVF-PQ index (narratives/vectors/shards.py) on small real FAISS indexes.

Dimension 64 (16 PQ sub-quantizers, 4 dimensions each as at 384) and 24,000 vectors keep the
file fast on two cores; the code paths are those of the 2M benchmark. The recall bar is the
acceptance bar of issue 16 (recall@10 >= 0.95 against exact search), not a figure tuned to this
fixture: here the default nprobe and re-rank depth give ~0.999, while PQ order alone (no re-rank
beyond the top 10) gives ~0.54, so the bar checks the re-rank, not an easy fixture.
"""

import json

import numpy as np
import pytest

from narratives.vectors.index import (
    SHARDED,
    IndexDamaged,
    VectorIndex,
    sidecar_path,
)
from narratives.vectors.shards import K_FACTOR, MANIFEST, ShardedIndex

DIM, N, TRAIN_AT, SHARD = 64, 24_000, 12_000, 5_000


def _clustered(n, seed, centres=300):
    """Unit vectors around many centres, a spread of their own each (as text embeddings are)."""
    rng = np.random.default_rng(seed)
    c = np.random.default_rng(99).standard_normal((centres, DIM)).astype(np.float32)
    which = rng.integers(0, centres, n)
    spread = np.random.default_rng(98).uniform(0.3, 0.7, centres).astype(np.float32)
    x = c[which] + spread[which, None] * rng.standard_normal((n, DIM), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _exact(vectors, ids, queries, k=10):
    scores = queries @ vectors.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, top, 1), ids[top]


def _recall(truth, found):
    return float(
        np.mean([len(set(t) & set(f)) / len(t) for t, f in zip(truth, found, strict=True)])
    )


@pytest.fixture(scope="module")
def data():
    vectors = _clustered(N, seed=1)
    ids = np.arange(N, dtype=np.int64) * 3 + 5  # passage ids with gaps, growing
    queries = _clustered(300, seed=2)  # held out: never added
    return vectors, ids, queries


@pytest.fixture(scope="module")
def sharded(data):
    vectors, ids, _ = data
    index = ShardedIndex(DIM, shard_size=SHARD, train_threshold=TRAIN_AT)
    for s in range(0, N, 3_000):  # crosses the training threshold part-way, as sync_index does
        index.add(ids[s : s + 3_000], vectors[s : s + 3_000])
    return index


def test_trains_past_its_threshold_shards_by_id_range_and_counts(data, sharded):
    vectors, ids, _ = data
    fresh = ShardedIndex(DIM, shard_size=SHARD, train_threshold=TRAIN_AT)
    fresh.add(ids[: TRAIN_AT - 1], vectors[: TRAIN_AT - 1])
    assert not fresh.is_trained and fresh.count() == TRAIN_AT - 1
    assert sharded.is_trained and sharded.count() == N and sharded.max_id == ids[-1]
    assert [st.n for st in sharded.stores] == [5_000] * 4 + [4_000]
    assert [int(st.view()[0][0]) for st in sharded.stores] == list(ids[::SHARD])
    assert sum(int(ivf.ntotal) for ivf in sharded.ivfs) == N


def test_recall_at_10_against_exact_search(data, sharded):
    vectors, ids, queries = data
    truth_scores, truth = _exact(vectors, ids, queries)
    scores, found = sharded.search(queries, 10)
    recall = _recall(truth, found)
    assert recall >= 0.95, f"recall@10 {recall:.4f}"
    sharded.tune(k_factor=1)  # PQ's own order: what the re-rank of k * k_factor is there for
    try:
        assert _recall(truth, sharded.search(queries, 10)[1]) < 0.8
    finally:
        sharded.tune(k_factor=K_FACTOR)
    # scores are re-ranked inner products with the stored (float16) vectors, not PQ estimates
    rows = np.searchsorted(ids, found)
    recomputed = np.einsum("qkd,qd->qk", vectors[rows], queries)
    assert np.abs(scores - recomputed).max() < 2e-3
    assert (np.diff(scores, axis=1) <= 0).all()


def test_search_before_training_is_exact(data):
    vectors, ids, queries = data
    index = ShardedIndex(DIM, shard_size=SHARD, train_threshold=N + 1, rerank_dtype="float32")
    index.add(ids[:7_000], vectors[:7_000])  # two shards, untrained
    truth_scores, truth = _exact(vectors[:7_000], ids[:7_000], queries)
    scores, found = index.search(queries, 10)
    assert (found == truth).all() and np.allclose(scores, truth_scores, atol=1e-5)


def test_fan_out_over_shards_equals_one_unsharded_index(data, sharded):
    """Same training, same content: five shards searched by fan-out give the hits and scores of
    one index holding everything (the shards' top candidates merged are the global top)."""
    vectors, ids, queries = data
    one = ShardedIndex(DIM, shard_size=10**9, trained=sharded.trained())
    one.add(ids, vectors)
    assert len(one.stores) == 1 and len(sharded.stores) == 5
    s1, f1 = one.search(queries, 10)
    s5, f5 = sharded.search(queries, 10)
    assert (f1 == f5).all() and np.array_equal(s1, s5)


def test_save_load_roundtrip_then_append_rewrites_only_the_last_shard(data, sharded, tmp_path):
    vectors, ids, queries = data
    before = sharded.search(queries, 10)
    sharded.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / MANIFEST).read_text())
    assert manifest["count"] == N and len(manifest["shards"]) == 5
    for mmap in (True, False):
        loaded = ShardedIndex.load(tmp_path / "idx", mmap=mmap)
        assert loaded.count() == N and loaded.max_id == sharded.max_id
        after = loaded.search(queries, 10)
        assert (after[1] == before[1]).all() and np.array_equal(after[0], before[0])
    # add after training (and after load, to a memory-mapped last shard): 1,500 new passages
    # fill shard 5 and open a sixth
    extra = _clustered(1_500, seed=3)
    new_ids = np.arange(1_500) + ids[-1] + 10
    loaded.add(new_ids, extra)
    assert loaded.count() == N + 1_500 and [st.n for st in loaded.stores][-2:] == [5_000, 500]
    assert (loaded.search(extra[:50], 1)[1][:, 0] == new_ids[:50]).all()
    loaded.save(tmp_path / "idx")
    again = json.loads((tmp_path / "idx" / MANIFEST).read_text())
    assert again["shards"][:4] == manifest["shards"][:4]  # untouched shards are not rewritten
    assert again["shards"][4]["ids"] != manifest["shards"][4]["ids"]
    kept = {f.name for f in (tmp_path / "idx").iterdir()}
    assert manifest["shards"][4]["ids"] not in kept  # replaced files are removed
    reloaded = ShardedIndex.load(tmp_path / "idx")
    assert reloaded.count() == N + 1_500
    assert (reloaded.search(extra[-50:], 1)[1][:, 0] == new_ids[-50:]).all()


def test_refuses_older_ids_and_damaged_files(data, sharded, tmp_path):
    vectors, ids, _ = data
    with pytest.raises(ValueError, match="ids must be new"):
        sharded.add(ids[:2], vectors[:2])
    sharded.save(tmp_path / "idx")
    shard_file = json.loads((tmp_path / "idx" / MANIFEST).read_text())["shards"][0]["ivf"]
    (tmp_path / "idx" / shard_file).write_bytes(b"not faiss")
    with pytest.raises(IndexDamaged):
        ShardedIndex.load(tmp_path / "idx")


def test_vector_index_hands_over_to_shards_past_its_threshold(data, tmp_path):
    """The hook in index.py: flat, then IVF-flat, then sharded IVF-PQ, saved as a folder and
    loaded back by its sidecar; later passages are appended as sync_index appends them."""
    vectors, ids, queries = data
    index = VectorIndex("m", DIM, ivf_threshold=2_000, shard_threshold=TRAIN_AT)
    for s in range(0, 20_000, 4_000):
        index.add(ids[s : s + 4_000], vectors[s : s + 4_000])
        if s == 4_000:
            assert index.kind == "ivf-flat-ip"
    assert index.kind == SHARDED and index.count() == 20_000 and index.max_id == ids[19_999]
    truth = _exact(vectors[:20_000], ids[:20_000], queries)[1]
    assert _recall(truth, index.search(queries, 10)[1]) >= 0.95
    path = index.save(tmp_path / "m.faiss")
    meta = json.loads(sidecar_path(path).read_text())
    assert path.is_dir() and meta["kind"] == SHARDED and meta["count"] == 20_000
    loaded = VectorIndex.load(path, "m")
    assert loaded.kind == SHARDED and loaded.count() == 20_000
    loaded.add(ids[20_000:], vectors[20_000:])
    assert loaded.count() == N and loaded.max_id == ids[-1]
    truth = _exact(vectors, ids, queries)[1]
    assert _recall(truth, loaded.search(queries, 10)[1]) >= 0.95
    loaded.save(path)
    assert VectorIndex.load(path, "m").count() == N
