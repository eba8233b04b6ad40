"""Ingest of real feeds, pages, a Telegram export and files from a real HTTP server on 127.0.0.1:
every bad input is one error row with a reason, every good item is stored, re-runs add nothing,
languages are right, reprints are edges."""

import pytest

from narratives.core.store import reader
from narratives.ingest.state import IngestBusy, ingest_lock
from narratives.ingest.step import ingest_sources

# (source, a piece of the item, a piece of the reason): one row per bad input of the fixtures
EXPECTED_ERRORS = [
    ("pages", "/pages/empty.html", "no article text"),
    ("pages", "/missing", "HTTP 404 Not Found"),
    ("pages", "/loop/a", "redirect loop"),
    ("pages", "/big", "more than the 1.0 MB limit; stopped reading"),
    ("pages", "/slow", "timed out after 1 s"),
    ("dates", "d-1970", "is impossible"),
    ("dates", "d-bad", "is not a date"),
    ("truncated", "/feeds/truncated.xml", "malformed or cut off"),
    ("not-a-feed", "/feeds/not-a-feed.xml", "not a valid RSS or Atom feed"),
    ("huge", "h-huge", "over the 200,000 limit"),
    ("private", "/feeds/uk-atom.xml", "private, loopback or reserved address"),
    ("tg", "1001/7", "impossible date"),
    ("tg-broken", "broken.json", "is not valid JSON"),
    ("csv", "articles.csv:5", "has no text"),
    ("csv", "articles.csv:6", "is not a date"),
    ("jsonl", "articles.jsonl:2", "not valid JSON"),
]
# every good item of the fixtures, with the language it is written in
EXPECTED_DOCS = {
    "en-wire": {"en-1": "en", "en-2": "en"},
    "ru-vesti": {"ru-1": "ru", "ru-2": "ru"},
    "uk-kyiv": {"urn:test:uk:1": "uk", "urn:test:uk:2": "uk"},
    "changing": {f"c-{i}": "en" for i in range(1, 6)},
    "pages": {
        "ru-1251.html": "ru",
        "uk-koi8u.html": "uk",
        "ru-wrong-charset.html": "ru",
        "uk-mixed.html": "uk",
        "reprint.html": "ru",
    },  # fmt: skip
    "dates": {"d-good": "en", "d-none": "en"},  # no date: kept, first seen stands in (issue 14)
    "truncated": {"t-1": "uk", "t-2": "uk"},
    "huge": {"h-good": "en"},
    "tg": {"1001/2": "ru", "1001/3": "uk", "1001/4": "ru", "1001/6": "en"},
    "csv": {"c-en": "en", "c-uk": "uk", "c-copy": "ru"},
    "jsonl": {"j-en": "en", "j-ru": "ru"},
}


def _docs(settings):
    with reader(settings.database) as con:
        rows = con.execute("SELECT source_id, external_id, lang FROM documents").fetchall()
    out: dict[str, dict[str, str]] = {}
    for source, ext, lang in rows:
        key = ext.rsplit("/", 1)[-1] if source == "pages" else ext
        out.setdefault(source, {})[key] = lang
    return out


def _count(settings, sql):
    with reader(settings.database) as con:
        return con.execute(sql).fetchall()[0][0]


@pytest.fixture
def first_ingest(mini_settings, sources_file):
    return ingest_sources(mini_settings, sources_file)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """One ingest of every fixture source, shared by the tests that only read its result."""
    from narratives.core.settings import Settings
    from tests.ingest_server import ROOT, FixtureServer

    tmp = tmp_path_factory.mktemp("ingested")
    settings = Settings(home=tmp / "var", progress=False, lock_wait_s=5)
    with FixtureServer() as server:
        template = (ROOT / "sources.toml.in").read_text(encoding="utf-8")
        path = tmp / "sources.toml"
        path.write_text(template.replace("{base}", server.base).replace("{data}", str(ROOT)),
                        encoding="utf-8")  # fmt: skip
        summary = ingest_sources(settings, path)
        yield settings, summary, server


def test_each_bad_input_is_one_error_row_and_every_good_item_is_stored(ingested):
    mini_settings, first_ingest, ingest_server = ingested
    with reader(mini_settings.database) as con:
        errors = con.execute("SELECT source_id, item, reason FROM ingest_errors").fetchall()
    assert len(errors) == len(EXPECTED_ERRORS)
    for source, item, reason in EXPECTED_ERRORS:
        hits = [e for e in errors if e[0] == source and item in e[1] and reason in e[2]]
        assert len(hits) == 1, (source, item, reason, errors)
    # languages: every document, and so every RU/UK one, labelled as written
    assert _docs(mini_settings) == EXPECTED_DOCS
    summary = first_ingest
    assert summary["pages"]["error"] == 5 and summary["pages"]["status"] == "partial"
    assert summary["not-a-feed"]["status"] == "failed"
    # the 50 MB answer was abandoned early, not read to the end
    assert 1_000_000 < ingest_server.big_sent < 20_000_000


def test_second_run_adds_nothing_and_a_grown_feed_adds_exactly_its_new_items(
    first_ingest, mini_settings, sources_file, ingest_server
):
    before = {
        t: _count(mini_settings, f"SELECT count(*) FROM {t}") for t in ("documents", "passages")
    }
    feed_hits = ingest_server.hits["/feeds/en-summary.xml"]
    page_hits = ingest_server.hits["/pages/en-1.html"]
    again = ingest_sources(mini_settings, sources_file)
    after = {t: _count(mini_settings, f"SELECT count(*) FROM {t}") for t in before}
    assert after == before
    assert sum(s["new"] + s["reprint"] for s in again.values()) == 0
    # unchanged feeds answer 304 to the conditional request; seen articles are not fetched again
    assert again["en-wire"]["status"] == again["changing"]["status"] == "not-modified"
    assert ingest_server.hits["/feeds/en-summary.xml"] == feed_hits + 1
    assert ingest_server.hits["/pages/en-1.html"] == page_hits
    # seen before: the 4 stored posts and the one with an impossible date, reported only once
    assert again["tg"]["duplicate"] == 5 and again["tg"]["error"] == 0
    assert again["csv"]["duplicate"] == 3 and again["csv"]["error"] == 0

    ingest_server.changing_items = 8
    grown = ingest_sources(mini_settings, sources_file, only="changing")
    assert grown["changing"]["new"] == 3 and grown["changing"]["duplicate"] == 5
    assert _count(mini_settings, "SELECT count(*) FROM documents") == before["documents"] + 3
    assert _count(mini_settings, "SELECT count(*) FROM documents WHERE source_id = 'changing'") == 8


def test_telegram_export_keeps_forwards_views_and_edits(ingested):
    settings = ingested[0]
    forwards = _rows(settings, "SELECT d.external_id, f.origin_name, f.origin_outlet_id, f.views "
                     "FROM forwards f JOIN documents d ON d.id = f.document_id ORDER BY 1")  # fmt: skip
    ru_outlet = _rows(settings, "SELECT outlet_id FROM documents WHERE source_id = 'ru-vesti'")[0][
        0
    ]
    edited = _rows(
        settings, "SELECT meta->>'edited_at', text FROM documents WHERE external_id = '1001/3'"
    )[0]
    # the origin that is a tracked outlet is linked to it; the other keeps its name
    assert forwards == [("1001/4", "Тестовые Вести", ru_outlet, 15230),
                        ("1001/6", "Harbour Watch", None, 870)]  # fmt: skip
    assert edited[0] == "2024-03-24T15:42:00"
    assert "відкрили новий пункт незламності" in edited[1] and "#Дніпро" in edited[1]


def test_mixed_language_document_has_a_passage_in_each_language(ingested):
    rows = _rows(
        ingested[0],
        "SELECT d.lang, p.lang, p.text FROM passages p JOIN documents d ON d.id = p.document_id "
        "WHERE d.external_id LIKE '%uk-mixed.html' ORDER BY p.seq",
    )
    assert {r[0] for r in rows} == {"uk"}
    quote = [r for r in rows if "Мы не сможем" in r[2]]
    assert quote and quote[0][1] == "ru"
    assert {r[1] for r in rows if r is not quote[0]} == {"uk"}


def test_a_document_reprinted_by_three_outlets_is_embedded_once(first_ingest, mini_settings, e5):
    from embeddings.base import text_hash
    from narratives.passages import split as passages_mod
    from narratives.pipeline import embed_step

    with reader(mini_settings.database) as con:
        edges = con.execute(
            "SELECT o.external_id, c.external_id, r.kind, r.delay_seconds FROM reprints r "
            "JOIN documents o ON o.id = r.original_id JOIN documents c ON c.id = r.reprint_id "
            "ORDER BY r.delay_seconds"
        ).fetchall()
        reprint_passages = con.execute(
            "SELECT count(*) FROM passages p JOIN reprints r ON r.reprint_id = p.document_id"
        ).fetchall()[0][0]
        copies = [r[0] for r in con.execute(
            "SELECT d.text FROM documents d JOIN reprints r ON r.reprint_id = d.id").fetchall()]  # fmt: skip
        # prevalence still counts the reprinting outlets' documents
        counted = con.execute(
            "SELECT count(DISTINCT f.document_id) FROM passage_facts f "
            "JOIN reprints r ON r.reprint_id = f.document_id"
        ).fetchall()[0][0]
    assert [(e[0], e[1].rsplit("/", 1)[-1], e[2]) for e in edges] == [
        ("ru-1", "4", "near"), ("ru-1", "reprint.html", "near"), ("ru-1", "c-copy", "exact")]  # fmt: skip
    assert [e[3] for e in edges] == [7200.0, 14400.0, 86400.0]
    assert reprint_passages == 0 and counted == 3
    counts = embed_step(mini_settings, run_id=0, embedder=e5)
    distinct = _count(mini_settings, "SELECT count(DISTINCT text_hash) FROM passages")
    assert counts["embeddings_new"] == distinct
    with reader(mini_settings.database) as con:
        embedded = {r[0] for r in con.execute("SELECT text_hash FROM embeddings").fetchall()}
    # the copies' own wording (an emoji, a new first sentence) was never embedded
    copy_hashes = {text_hash(p.text) for t in copies for p in passages_mod.split(t)}
    original_hashes = {
        r[0] for r in _rows(mini_settings, "SELECT p.text_hash FROM passages p JOIN documents d "
                            "ON d.id = p.document_id WHERE d.external_id = 'ru-1'")
    }  # fmt: skip
    assert original_hashes <= embedded
    assert not (copy_hashes - original_hashes) & embedded


def _rows(settings, sql):
    with reader(settings.database) as con:
        return con.execute(sql).fetchall()


def test_a_second_ingest_at_the_same_time_is_refused(mini_settings, sources_file):
    with ingest_lock(mini_settings.home):
        with pytest.raises(IngestBusy, match="another ingest is running .*pid"):
            ingest_sources(mini_settings, sources_file)
    assert not mini_settings.database.exists()  # refused before anything was read or written
