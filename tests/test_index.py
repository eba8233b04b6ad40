import json

import numpy as np
import pytest

from narratives.vectors.index import IndexMismatch, VectorIndex, index_path_for, sidecar_path


def _vectors(n, dim=8, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_add_search_save_load_count(tmp_path):
    index = VectorIndex("model-a", 8)
    vecs = _vectors(20)
    ids = np.arange(100, 120)
    index.add(ids, vecs)
    assert index.count() == 20
    scores, found = index.search(vecs[3], k=3)
    assert found[0, 0] == 103 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    path = index.save(index_path_for(tmp_path, "model/a@1"))
    meta = json.loads(sidecar_path(path).read_text())
    assert (
        meta["model_id"] == "model-a"
        and meta["dim"] == 8
        and meta["count"] == 20
        and meta["max_id"] == 119
    )
    assert "faiss" in meta["versions"]
    loaded = VectorIndex.load(path, "model-a")
    assert loaded.count() == 20 and loaded.max_id == 119
    assert loaded.search(vecs[7], 1)[1][0, 0] == 107


def test_load_refuses_another_models_index(tmp_path):
    path = VectorIndex("model-a", 8).save(tmp_path / "a.faiss")
    with pytest.raises(IndexMismatch, match="model-a"):
        VectorIndex.load(path, "model-b")


def test_add_checks_shapes():
    index = VectorIndex("m", 8)
    with pytest.raises(ValueError, match=r"\(n, 8\)"):
        index.add([1], _vectors(1, dim=4))


def _clustered(n, dim=32, centres=50, seed=1):
    """Vectors around a few centres, as text embeddings are: IVF's cells have something to find."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, dim)).astype(np.float32)
    x = c[rng.integers(0, centres, n)] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_index_switches_to_ivf_past_its_threshold_and_keeps_finding(tmp_path):
    vecs = _clustered(3000)
    ids = np.arange(10, 3010)
    index = VectorIndex("m", 32, ivf_threshold=2000, nprobe=8)
    index.add(ids[:1500], vecs[:1500])
    assert index.kind == "flat-ip"
    index.add(ids[1500:2500], vecs[1500:2500])  # crosses the threshold: re-filed into IVF cells
    assert index.kind == "ivf-flat-ip" and index.count() == 2500
    index.add(ids[2500:], vecs[2500:])  # later vectors go into the trained cells
    assert index.count() == 3000 and index.max_id == 3009
    exact = VectorIndex("m", 32, ivf_threshold=None)
    exact.add(ids, vecs)
    queries = vecs[::100] + 0.05
    truth = exact.search(queries, 10)[1]
    found = index.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
    assert recall >= 0.9
    path = index.save(tmp_path / "ivf.faiss")
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["kind"] == "ivf-flat-ip" and meta["nprobe"] == 8 and meta["nlist"] >= 64
    loaded = VectorIndex.load(path, "m")
    assert loaded.kind == "ivf-flat-ip" and loaded.nprobe == 8
    assert (loaded.search(queries, 10)[1] == found).all()
