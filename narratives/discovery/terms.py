"""Key terms of clusters per language: class-based TF-IDF (BERTopic's c-TF-IDF)."""

from __future__ import annotations

import re

import numpy as np

_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def key_terms(texts: list[str], labels: np.ndarray, top: int) -> dict[int, list[tuple[str, float]]]:
    """Class-based TF-IDF: each cluster's passages form one document; a term scores by its
    frequency in the cluster times log(1 + average class size / its frequency in all classes),
    so words common to every cluster (function words in any language) sink."""
    from sklearn.feature_extraction.text import CountVectorizer

    classes = sorted(set(labels.tolist()))
    docs = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == c) for c in classes]
    try:
        # a word in most clusters of a language is a function word there: no stop lists needed
        # (with 2-3 clusters: a word in all of them)
        max_df = 0.5 if len(docs) >= 4 else max(1, len(docs) - 1) if len(docs) > 1 else 1.0
        counts = CountVectorizer(token_pattern=_TOKEN.pattern, max_df=max_df).fit(docs)
    except ValueError:  # no term at all
        return {c: [] for c in classes}
    tf = counts.transform(docs).toarray().astype(np.float64)
    vocab = counts.get_feature_names_out()
    per_class = tf.sum(axis=1, keepdims=True)
    avg = per_class.mean()
    weights = (tf / np.maximum(per_class, 1)) * np.log1p(avg / np.maximum(tf.sum(axis=0), 1))
    out = {}
    for row, c in enumerate(classes):
        order = np.argsort(-weights[row])[:top]
        out[c] = [(str(vocab[j]), float(weights[row, j])) for j in order if tf[row, j] > 0]
    return out
