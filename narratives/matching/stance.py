"""Stance of a matched passage towards its narrative: `asserts` (carries it), `refutes` (denies
or debunks it, or reports it in order to reject it) or `reports` (attributes it neutrally,
"Russian officials claimed...").

The stance head is a multinomial logistic regression on passage vectors, trained on the set
itself: every narrative's exemplars are `asserts`, its counter-exemplars `refutes`; the shipped
stance bank (`narratives/background/stance-v1.yaml`, written for this project in EN/RU/UK)
adds generic refutations and neutral attributions. Stance is a property of how a passage speaks,
mostly independent of which narrative it speaks about, so one head serves all narratives.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from narratives.core.settings import Settings
from narratives.matching.sets import NarrativeSet

STANCE = "stance-head-v1"  # named in run records
STANCES = ("asserts", "refutes", "reports")
STANCE_BANK = "stance-v1"


@lru_cache(maxsize=1)
def stance_bank() -> dict[str, dict[str, tuple[str, ...]]]:
    """{stance: {lang: sentences}} shipped with the package."""
    import yaml

    path = resources.files("narratives") / "background" / f"{STANCE_BANK}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {s: {lang: tuple(t) for lang, t in by_lang.items()} for s, by_lang in data.items()}


def training_texts(nset: NarrativeSet) -> tuple[list[str], list[str]]:
    """(texts, stances) the head learns from."""
    texts, labels = [], []

    def add(group: dict, stance: str) -> None:
        for sentences in group.values():
            texts.extend(sentences)
            labels.extend([stance] * len(sentences))

    for n in nset.narratives:
        add(n.exemplars, "asserts")
        add(n.counter_exemplars, "refutes")
    for stance, group in stance_bank().items():
        add(group, stance)
    return texts, labels


class StanceHead:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.model = None

    def fit(self, vectors: np.ndarray, stances: list[str], texts: list[str] | None = None
            ) -> StanceHead:  # fmt: skip
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(C=self.settings.stance_c, class_weight="balanced",
                                        max_iter=3000).fit(vectors, stances)  # fmt: skip
        return self

    def predict(self, vectors: np.ndarray, texts: list[str] | None = None
                ) -> tuple[list[str], np.ndarray]:  # fmt: skip
        """(stance, its probability) per passage (`texts`: the passages' texts, same order)."""
        if len(vectors) == 0:
            return [], np.zeros(0, dtype=np.float32)
        proba = self.model.predict_proba(vectors)
        best = proba.argmax(axis=1)
        classes = list(self.model.classes_)
        return [classes[i] for i in best], proba[np.arange(len(best)), best].astype(np.float32)


def parameters(settings: Settings) -> dict:
    return {"stance_c": settings.stance_c, "stance_bank": STANCE_BANK}
