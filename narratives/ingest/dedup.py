"""Duplicate detection: exact copies by normalised content hash, near copies by MinHash + LSH.

Outlets reprint agency copy with a new first line, a different headline or an emoji in front; the
wording of the body stays. Word 3-shingles of the normalised text capture that: two copies of one
story share most of their shingles, two stories on the same event share few. MinHash estimates
the Jaccard similarity of two shingle sets from 128 small integers per document, and LSH (32 bands
of 4 rows) turns "which stored documents are similar to this one" into a lookup of equal band
hashes, so a new document is compared with a handful of candidates, not the whole store. Each
candidate is then checked with the exact Jaccard similarity of the two shingle sets.

The threshold is measured, not guessed: on the demo corpus the three reprints of demo-0055 score
0.62-0.77 against it, while distinct stories that share a few agency sentences score at most 0.53.
Band keys live in DuckDB (`minhash_bands`), so copies are found across runs and sources.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from embeddings.base import normalise_text

DEDUP = "sha1-normalised+minhash-lsh-w3-j0.6"  # exact, then near copies; named in run records
SHINGLE_WORDS = 3
NUM_PERM = 128
BANDS, ROWS = 32, 4  # P(candidate) = 1 - (1 - J^4)^32: 0.5 at J ~ 0.42, 0.98 at J = 0.6
NEAR_THRESHOLD = 0.6  # Jaccard of word 3-shingles at and above which a candidate is a copy
MIN_SHINGLES = 12  # shorter texts are compared by exact hash only: a few words are not a story
_PRIME = np.uint64(4294967311)  # > 2**32, so (a * x + b) mod p permutes 32-bit shingle hashes
_rng = np.random.default_rng(20240322)  # fixed: signatures must compare across runs
_A = _rng.integers(1, 2**31, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise_for_hash(text: str) -> str:
    """Case, punctuation and spacing do not make a different text."""
    return " ".join(_WORD.findall(normalise_text(text).lower()))


def content_hash(text: str) -> str:
    return hashlib.sha1(normalise_for_hash(text).encode("utf-8")).hexdigest()


def shingles(text: str) -> set[int]:
    """32-bit hashes of the text's word 3-shingles."""
    words = normalise_for_hash(text).split()
    return {
        zlib.crc32(" ".join(words[i : i + SHINGLE_WORDS]).encode())
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def signature(sh: set[int]) -> np.ndarray | None:
    """The MinHash signature of a shingle set, or None when it is too short to compare."""
    if len(sh) < MIN_SHINGLES:
        return None
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    return ((np.outer(_A, x) + _B[:, None]) % _PRIME).min(axis=1)


def band_keys(sig: np.ndarray) -> list[int]:
    """One 63-bit key per band: equal keys in a band make two documents candidates."""
    keys = []
    for b in range(BANDS):
        chunk = sig[b * ROWS : (b + 1) * ROWS].tobytes()
        keys.append(int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "little") >> 1)
    return keys


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _best(sh: set[int], candidates: dict[int, set[int]]) -> Copy | None:
    """The most similar candidate at or above NEAR_THRESHOLD (the first met on a tie)."""
    best = None
    for doc_id, other in candidates.items():
        sim = jaccard(sh, other)
        if sim >= NEAR_THRESHOLD and (best is None or sim > best.similarity):
            best = Copy(doc_id, "near", round(sim, 4))
    return best


@dataclass
class Copy:
    original_id: int
    kind: str  # exact | near
    similarity: float


class Deduper:
    """Finds the original a new document copies, among stored originals and the originals
    accepted earlier in the same batch (which are not in the database yet)."""

    def __init__(self, con):
        self.con = con
        self.hashes: dict[str, int] = {}  # content hash -> id, this batch
        self.buckets: dict[tuple[int, int], list[int]] = {}  # (band, key) -> ids, this batch
        self.batch_shingles: dict[int, set[int]] = {}
        self.new_bands: list[tuple[int, int, int]] = []

    def find(self, text: str) -> tuple[Copy | None, np.ndarray | None]:
        """The original this text copies, if any (exact first, else the most similar near copy
        at or above NEAR_THRESHOLD), and the text's MinHash signature."""
        digest = content_hash(text)
        sh = shingles(text)
        sig = signature(sh)
        if digest in self.hashes:
            return Copy(self.hashes[digest], "exact", 1.0), sig
        exact = self.con.execute(
            "SELECT d.id FROM documents d WHERE d.content_hash = ? "
            "AND NOT EXISTS (SELECT 1 FROM reprints r WHERE r.reprint_id = d.id) "
            "ORDER BY d.published_at NULLS LAST, d.id LIMIT 1",
            [digest],
        ).fetchall()
        if exact:
            return Copy(exact[0][0], "exact", 1.0), sig
        if sig is None:
            return None, None
        keys = band_keys(sig)
        candidates: dict[int, set[int]] = {}
        for b, k in enumerate(keys):
            for doc_id in self.buckets.get((b, k), ()):
                candidates[doc_id] = self.batch_shingles[doc_id]
        stored = self.con.execute(
            "SELECT d.id, d.text FROM documents d WHERE d.id IN ("
            " SELECT b.document_id FROM minhash_bands b"
            " JOIN (SELECT unnest(range(?)) AS band, unnest(?::BIGINT[]) AS bucket) k"
            " ON k.band = b.band AND k.bucket = b.bucket)",
            [BANDS, keys],
        ).fetchall()
        for doc_id, other in stored:
            candidates[doc_id] = shingles(other)
        return _best(sh, candidates), sig

    def find_all(self, docs: list[tuple[int, str]]) -> dict[int, Copy]:
        """For a batch of (id, text) taken in order: the copies among them (id -> the original it
        copies), each text that copies nothing being added as an original for those after it.

        The decisions are those of `find` then `add_original` per text, but with two queries for
        the whole batch instead of two per text (issue 15: those were 89% of ingest at 10k stored
        documents, and their cost grew with the store). That holds because the stored documents
        do not change while a batch is looked up (the caller inserts the batch after), so what the
        database says of each text can be asked for all at once; the batch's own originals are
        still met in order, in memory."""
        digests = [content_hash(t) for _, t in docs]
        shingle_sets = [shingles(t) for _, t in docs]
        sigs = [signature(sh) for sh in shingle_sets]
        keys = [band_keys(sig) if sig is not None else None for sig in sigs]
        exact = self._stored_exact(digests)
        stored = self._stored_candidates(keys)
        wanted = sorted({d for ds in stored.values() for d in ds})
        texts_of = dict(self.con.execute(
            "SELECT id, text FROM documents WHERE id IN (SELECT unnest(?::BIGINT[]))", [wanted],
        ).fetchall()) if wanted else {}  # fmt: skip
        stored_shingles: dict[int, set[int]] = {}  # a stored text is shingled once per batch
        edges: dict[int, Copy] = {}
        for i, (doc_id, _) in enumerate(docs):
            digest, sh, sig = digests[i], shingle_sets[i], sigs[i]
            copy = None
            if digest in self.hashes:
                copy = Copy(self.hashes[digest], "exact", 1.0)
            elif digest in exact:
                copy = Copy(exact[digest], "exact", 1.0)
            elif sig is not None:
                candidates: dict[int, set[int]] = {}
                for b, k in enumerate(keys[i]):
                    for other in self.buckets.get((b, k), ()):
                        candidates[other] = self.batch_shingles[other]
                for other in stored.get(i, ()):
                    if other not in stored_shingles:
                        stored_shingles[other] = shingles(texts_of[other])
                    candidates[other] = stored_shingles[other]
                copy = _best(sh, candidates)
            if copy is None:
                self._add(doc_id, digest, sh, keys[i])
            else:
                edges[doc_id] = copy
        return edges

    def _stored_exact(self, digests: list[str]) -> dict[str, int]:
        """content hash -> the stored original with that hash (earliest, then lowest id)."""
        rows = self.con.execute(
            "SELECT content_hash, id FROM (SELECT d.content_hash, d.id, row_number() OVER ("
            " PARTITION BY d.content_hash ORDER BY d.published_at NULLS LAST, d.id) AS n"
            " FROM documents d WHERE d.content_hash IN (SELECT unnest(?::VARCHAR[]))"
            " AND NOT EXISTS (SELECT 1 FROM reprints r WHERE r.reprint_id = d.id)) WHERE n = 1",
            [sorted(set(digests))],
        ).fetchall()
        return dict(rows)

    def _stored_candidates(self, keys: list[list[int] | None]) -> dict[int, list[int]]:
        """text index -> stored documents sharing a band key with it."""
        rows = [(i, b, k) for i, ks in enumerate(keys) if ks for b, k in enumerate(ks)]
        if not rows:
            return {}
        text, band, bucket = zip(*rows, strict=True)
        table = pa.table({"text": pa.array(text, pa.int64()), "band": pa.array(band, pa.int32()),
                          "bucket": pa.array(bucket, pa.int64())})  # fmt: skip
        self.con.register("_keys", table)
        try:
            found = self.con.execute(
                "SELECT DISTINCT k.text, b.document_id FROM _keys k JOIN minhash_bands b "
                "ON k.band = b.band AND k.bucket = b.bucket "
                "JOIN documents d ON d.id = b.document_id ORDER BY k.text, b.document_id"
            ).fetchall()
        finally:
            self.con.unregister("_keys")
        out: dict[int, list[int]] = {}
        for i, doc_id in found:
            out.setdefault(i, []).append(doc_id)
        return out

    def add_original(self, doc_id: int, text: str, sig: np.ndarray | None) -> None:
        keys = band_keys(sig) if sig is not None else None
        self._add(doc_id, content_hash(text), shingles(text), keys)

    def _add(self, doc_id: int, digest: str, sh: set[int], keys: list[int] | None) -> None:
        self.hashes.setdefault(digest, doc_id)
        if keys is None:
            return
        self.batch_shingles[doc_id] = sh
        for b, k in enumerate(keys):
            self.buckets.setdefault((b, k), []).append(doc_id)
            self.new_bands.append((b, k, doc_id))

    def save(self) -> None:
        """Write the band keys of this batch's originals (inside the caller's transaction)."""
        if not self.new_bands:
            return
        band, bucket, doc = zip(*self.new_bands, strict=True)
        rows = pa.table({"band": pa.array(band, pa.int32()), "bucket": pa.array(bucket, pa.int64()),
                         "document_id": pa.array(doc, pa.int64())})  # fmt: skip
        self.con.register("_bands", rows)
        try:
            self.con.execute("INSERT OR IGNORE INTO minhash_bands SELECT * FROM _bands")
        finally:
            self.con.unregister("_bands")
