import json

import numpy as np
import pytest

from embeddings.index import IndexMismatch, VectorIndex, index_path_for, sidecar_path


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
