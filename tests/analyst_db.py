"""The database the SQL recipes and the CLI's --format tests run against: the spread corpus (59
documents over ten days in three languages, written for the discovery tests) plus two exact
copies of a state-media story by other outlets, hours later (reprint edges), and one late
English story (a gap in the calendar), through the real
pipeline with the real e5 model, then discovery and alerts."""

from __future__ import annotations

import json
from pathlib import Path

from narratives import pipeline
from narratives.core.settings import Settings

DATA = Path(__file__).parent / "data"
COPIES = [("Copy Daily", "independent", "2024-03-22T15:00:00Z"),
          ("Copy Channel", "telegram", "2024-03-22T18:00:00Z")]  # fmt: skip


def build(home: Path, embedder) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    lines = (DATA / "spread-corpus.jsonl").read_text(encoding="utf-8").splitlines()
    original = next(json.loads(line) for line in lines if '"s-031"' in line)
    for i, (outlet, kind, at) in enumerate(COPIES):
        copy = {**original, "id": f"copy-{i}", "url": f"https://example.org/copy/{i}",
                "outlet": outlet, "outlet_kind": kind, "published_at": at}  # fmt: skip
        lines.append(json.dumps(copy, ensure_ascii=False))
    # one English story two days after the corpus ends: a day with no coverage at all, and days
    # with none in Russian or Ukrainian, which the date spine must show as zeros
    late = {"id": "late-0", "url": "https://example.org/late/0", "outlet": "Test Daily",
            "outlet_kind": "international", "lang": "en", "published_at": "2024-04-02T09:00:00Z",
            "title": "Weather", "text": "A cold front will bring frost to the region next week.",
            "gold_narratives": []}  # fmt: skip
    lines.append(json.dumps(late))
    corpus = home / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(home=home / "var", corpus=corpus, narrative_set=DATA / "mini-set.yaml",
                        progress=False, lock_wait_s=30)  # fmt: skip
    pipeline.run_pipeline(settings, embedder)
    pipeline.run_discover(settings, scopes=("all",))
    return settings
