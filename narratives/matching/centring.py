"""Centring by language: e5 gives each language its own offset (same-language pairs score higher
whatever they say), so English-only exemplars pull Ukrainian or Russian text towards whichever
narrative has the closest-sounding English. Subtracting each language's mean vector, estimated on
plenty of ordinary unlabelled text of that language, removes most of that offset (measured on
VoxCheck and SemEval, docs/matching.md). Used by `narratives.matching.base.score_matrix` when it is
handed per-language means, and by `narratives eval --centre-on`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class CentringDataError(ValueError):
    pass


def centre_by_language(vectors: np.ndarray, langs, means: dict[str, np.ndarray]) -> np.ndarray:
    """Each vector minus the mean vector of its language, re-normalised. e5 puts every language
    in its own region (same-language pairs score higher whatever they say); the mean of plenty
    of unlabelled text of a language estimates that offset. Languages without a mean are left."""
    out = np.array(vectors, dtype=np.float32, copy=True)
    for i, lang in enumerate(langs):
        if lang in means:
            v = out[i] - means[lang]
            out[i] = v / max(float(np.linalg.norm(v)), 1e-9)
    return out


def language_means(vectors: np.ndarray, langs) -> dict[str, np.ndarray]:
    """The mean vector of each language among (vectors, langs): unlabelled text only."""
    langs = np.asarray(langs)
    return {str(lang): vectors[langs == lang].mean(axis=0) for lang in np.unique(langs)}


def centring_means(con, embedder, path: str | Path) -> dict[str, np.ndarray]:
    """Per-language mean passage vectors of an unlabelled JSONL file of {text, lang} lines
    (plenty of ordinary text per language, e.g. news sentences), for centring by language."""
    from narratives.core.jsonl import json_rows
    from narratives.vectors import store as vector_store

    path = Path(path)

    def error(msg: str) -> CentringDataError:
        return CentringDataError(f"{path}: {msg}; give a JSONL file of {{text, lang}} objects")

    rows = [(r.get("text"), r.get("lang")) for _, r in json_rows(path, error)]
    rows = [(t, lang) for t, lang in rows if isinstance(t, str) and t.strip() and isinstance(lang, str)]  # fmt: skip
    if not rows:
        raise CentringDataError(f"{path}: holds no {{text, lang}} lines to centre by")
    vectors, _ = vector_store.embed_cached(con, embedder, [t for t, _ in rows], "passage")
    return language_means(vectors, [lang for _, lang in rows])
