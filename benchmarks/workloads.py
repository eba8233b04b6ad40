"""Inputs for the speed benchmark, made at run time: realistic distinct passages and synthetic
documents from the NTREX-128 sentences in shared/eval (never copied into the repository), clustered
synthetic vectors for the index, and a synthetic store of match rows for prevalence."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np

NTREX = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval" / "ntrex128" / "dev.jsonl"
NTREX_FALLBACK = Path("/work/shared/eval/ntrex128/dev.jsonl")
LANGS = ("en", "ru", "uk")


def ntrex_rows(limit: int | None = None) -> list[dict]:
    path = NTREX if NTREX.exists() else NTREX_FALLBACK
    if not path.exists():
        raise FileNotFoundError(
            f"NTREX-128 dev set not found at {NTREX} or {NTREX_FALLBACK}: the benchmark reads it "
            "from shared/eval beside the project"
        )
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return rows[:limit] if limit else rows


def realistic_passages(n: int, seed: int = 11) -> list[tuple[str, str]]:
    """n distinct (passage, language) pairs as the pipeline makes them: synthetic EN/RU/UK
    documents (`synthetic_documents`) cut by the project's own splitter (whole sentences packed
    up to 60 words), duplicates dropped, in document order. Lengths are those real passages have
    (a document's last passage is often short), not one fixed length."""
    from narratives.passages.split import split

    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    start = 0
    while len(out) < n:
        for doc in synthetic_documents(500, seed=seed + start, start_id=start):
            for p in split(doc["text"], default_lang=doc["lang"]):
                if p.text not in seen:
                    seen.add(p.text)
                    out.append((p.text, doc["lang"]))
        start += 500
        if start > 500 * 200:  # pragma: no cover - NTREX has far more than enough sentences
            raise RuntimeError(f"only {len(out)} distinct passages could be made, {n} asked")
    return out[:n]


def describe_passages(texts: list[str], langs: list[str]) -> str:
    """One line on a benchmark's inputs: count, distinctness (checked), languages, lengths."""
    words = np.array([len(t.split()) for t in texts])
    distinct = len(set(texts))
    if distinct != len(texts):
        raise ValueError(f"{len(texts) - distinct} repeated passages: inputs must be distinct")
    per_lang = {lang: langs.count(lang) for lang in sorted(set(langs))}
    return (f"{len(texts)} passages, all distinct (checked); {per_lang}; words per passage "
            f"median {np.median(words):.0f}, p10 {np.percentile(words, 10):.0f}, "
            f"p90 {np.percentile(words, 90):.0f}, max {words.max()}")  # fmt: skip


OUTLETS = [f"Outlet {i:02d}" for i in range(20)]
FIRST_DAY = dt.date(2024, 3, 1)


def synthetic_documents(n: int, seed: int, start_id: int = 0) -> list[dict]:
    """Documents of 3-7 NTREX sentences of one language, drawn at random, with an outlet and a
    date: distinct texts in realistic language. Their passages recur across documents (NTREX
    has 925 sentences a language); `distinct_documents` makes documents whose passages do not."""
    rows = ntrex_rows()
    rng = random.Random(seed)
    docs = []
    for i in range(start_id, start_id + n):
        lang = LANGS[i % 3]
        docs.append(_document(i, _draw(rng, rows, lang), lang, rng))
    return docs


def distinct_documents(
    n: int, seed: int, start_id: int = 0, max_words: int = 30, tries: int = 500
) -> list[dict]:
    """Documents as `synthetic_documents` makes them, drawn again until every passage the
    project's splitter cuts from them (at `max_words`, the pipeline's default 30) is new: no
    passage recurs within or across the n documents, so every passage of a run is a text the
    embedder has not seen.

    NTREX has 925 sentences a language: the single-sentence passages run out first, after
    which only documents whose sentences pack into passages of two or more sentences are
    kept (~900 documents in all)."""
    from narratives.passages.split import split

    rows = ntrex_rows()
    rng = random.Random(seed)
    seen: set[str] = set()
    docs = []
    for i in range(start_id, start_id + n):
        lang = LANGS[i % 3]
        for _ in range(tries):
            text = _draw(rng, rows, lang)
            passages = [p.text for p in split(text, max_words, default_lang=lang)]
            if len(set(passages)) == len(passages) and not seen.intersection(passages):
                break
        else:
            raise RuntimeError(f"no document with only new passages after {tries} draws "
                               f"({len(docs)} of {n} made): ask for fewer documents")  # fmt: skip
        seen.update(passages)
        docs.append(_document(i, text, lang, rng))
    return docs


def _draw(rng: random.Random, rows: list[dict], lang: str) -> str:
    return " ".join(rng.choice(rows)[lang] for _ in range(rng.randint(3, 7)))


def _document(i: int, text: str, lang: str, rng: random.Random) -> dict:
    return {
        "id": f"bench-{i:06d}", "text": text, "lang": lang, "outlet": rng.choice(OUTLETS),
        "published_at": (FIRST_DAY + dt.timedelta(days=rng.randrange(60))).isoformat(),
    }  # fmt: skip


def write_jsonl(path: Path, docs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    return path


def clustered_vectors(n: int, dim: int = 384, centres: int = 4000, seed: int = 0) -> np.ndarray:
    """Unit vectors around many centres, as text embeddings are (topics), in float32."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        x = c[rng.integers(0, centres, m)] + 0.04 * rng.standard_normal((m, dim), dtype=np.float32)
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def fill_match_store(con, match_rows: int, seed: int = 0) -> dict:
    """A tracker database (migrations applied by the caller) holding `match_rows` matches: three
    per passage, ~6 passages per document, 50 outlets, 90 days, EN/RU/UK, 10 narratives, ~5%
    of rows confirmed. Generated inside DuckDB, so 10M rows take seconds, not minutes."""
    passages = match_rows // 3
    documents = max(1, passages // 6)
    con.execute(f"SELECT setseed({seed / 1000})").fetchall()
    con.execute(
        "INSERT INTO outlets SELECT 'o' || i, 'Outlet ' || i, "
        "['state-media','independent','ukrainian','international','telegram'][i % 5 + 1], "
        "['en','ru','uk'][i % 3 + 1], NULL FROM range(50) t(i)"
    )
    con.execute(
        "INSERT INTO documents (id, source_id, external_id, outlet_id, lang, published_at, text, "
        "content_hash) SELECT i, 'bench', 'd' || i, 'o' || (i % 50), ['en','ru','uk'][i % 3 + 1], "
        "TIMESTAMP '2024-03-01' + to_days(CAST(i % 90 AS INTEGER)), 'x', 'h' || i FROM range(?) t(i)",
        [documents],
    )
    con.execute(
        "INSERT INTO passages (id, document_id, seq, start_char, end_char, text, lang, text_hash) "
        "SELECT i, i % ?, i // ?, 0, 1, 'p', ['en','ru','uk'][(i % ?) % 3 + 1], 'h' || i "
        "FROM range(?) t(i)",
        [documents, documents, documents, passages],
    )
    con.execute(
        "INSERT INTO narrative_sets (set_id, version, definition) VALUES ('bench', 'v1', '{}')"
    )
    con.execute(
        "INSERT INTO narratives SELECT 'bench', 'v1', 'n' || i, 'N' || i, '', 0.8, 'v' "
        "FROM range(10) t(i)"
    )
    con.execute("INSERT INTO matchings (set_id, set_version, model_id) VALUES ('bench','v1','m')")
    con.execute(
        "INSERT INTO matches SELECT p, 'bench', 'v1', 'm', 'n' || ((p * 7 + r * 3) % 10), r + 1, "
        "0.8, 0.8, NULL, NULL, 0.01, CASE WHEN random() < 0.05 THEN 'confirmed' ELSE 'rejected' END, "
        "NULL FROM range(?) a(p), range(3) b(r)",
        [passages],
    )
    return {"documents": documents, "passages": passages, "matches": passages * 3}
