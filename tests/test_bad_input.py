"""Bad input and faults (issue 14): each case is recorded with a reason and skipped, or kept with a
flag, never a crash and never a silent loss. Real DuckDB, real HTTP on 127.0.0.1 (the fixtures of
tests/data/bad/ served by tests/ingest_server.py), real FAISS; the fast hashing embedder stands in
for the model where only the code around it is under test."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
import yaml

from narratives.core.store import reader, writer
from narratives.ingest.http import FetchError, check_url
from narratives.ingest.step import ingest_sources, ingest_step

BAD = (Path(__file__).parent / "data" / "bad").resolve()
DATA = BAD.parent


@pytest.fixture
def bad_server(monkeypatch):
    """The ingest test server, serving tests/data/bad instead of tests/data/ingest."""
    from tests import ingest_server

    monkeypatch.setattr(ingest_server, "ROOT", BAD)
    with ingest_server.FixtureServer() as server:
        yield server


def _sources(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _feed(tmp_path: Path, server, name: str, **extra) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return _sources(tmp_path, "\n".join([
        "[[sources]]", 'id = "f"', 'kind = "feed"', f'url = "{server.base}/feeds/{name}"',
        'outlet = "Bad Input Daily"', "allow_private = true", *lines, ""]))  # fmt: skip


def _files(tmp_path: Path, lines: list[str | bytes], **extra) -> Path:
    data = tmp_path / "docs.jsonl"
    data.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    more = [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return _sources(tmp_path, "\n".join([
        "[[sources]]", 'id = "docs"', 'kind = "files"', f'path = "{data}"',
        'outlet = "File Herald"', *more, ""]))  # fmt: skip


def _rows(settings, sql: str, params=None) -> list[tuple]:
    with reader(settings.database) as con:
        return con.execute(sql, params or []).fetchall()


WORDS = (
    "harbour council bridge museum river school market station library garden theatre "
    "hospital ferry tram stadium archive bakery mayor budget repairs festival flood road "
    "tower square clinic orchestra farmers harvest airport runway canal lock reservoir "
    "volunteers students exhibition lecture"
).split()


def _doc(i: int, **fields) -> str:
    """A good JSONL line; `fields` replace or add fields."""
    rng = random.Random(i)  # distinct stories, so they are not taken for reprints of each other
    story = " ".join(rng.choice(WORDS) for _ in range(14))
    text = f"Item {i} of the file reports on the {story}."
    row = {"id": f"g-{i}", "text": text, "published_at": "2024-04-01T10:00:00Z"} | fields
    return json.dumps(row, ensure_ascii=False)


# --- 1. a JSONL line that is JSON but not an object ----------------------------------------------
def test_a_jsonl_line_that_is_not_an_object_is_a_bad_item(tmp_path, mini_settings):
    path = _files(tmp_path, [_doc(1), "[1, 2, 3]", '"just a string"', _doc(2)])
    summary = ingest_sources(mini_settings, path)["docs"]
    assert summary["new"] == 2 and summary["error"] == 2
    errors = _rows(mini_settings, "SELECT item, reason FROM ingest_errors ORDER BY item")
    assert [e[0] for e in errors] == ["docs.jsonl:2", "docs.jsonl:3"]
    assert all("expected a JSON object" in e[1] for e in errors)


# --- 2. a feed item whose article page cannot be fetched ----------------------------------------
def test_a_feed_item_whose_page_fails_is_stored_from_the_feed(tmp_path, mini_settings, bad_server):
    path = _feed(tmp_path, bad_server, "page-fails.xml", timeout_s=1.0)
    first = ingest_sources(mini_settings, path)["f"]
    docs = _rows(mini_settings, "SELECT external_id, title, text, meta->>'page_failed' "
                 "FROM documents ORDER BY 1")  # fmt: skip
    assert [d[0] for d in docs] == ["pf-404", "pf-slow"]
    assert docs[0][1] == "Harbour reopens after storm" and "harbour in Falmouth" in docs[0][2]
    assert "HTTP 404" in docs[0][3] and "timed out" in docs[1][3]
    # an item whose feed text is a stub ("Read more.") has nothing to store: a bad item
    errors = _rows(mini_settings, "SELECT item, reason FROM ingest_errors")
    assert [(e[0], "HTTP 404" in e[1]) for e in errors] == [("pf-stub", True)]
    assert first["new"] == 2 and first["error"] == 1
    # the next run neither loses nor repeats them
    again = ingest_sources(mini_settings, path)["f"]
    assert again["new"] == again["error"] == 0
    assert _rows(mini_settings, "SELECT count(*) FROM documents")[0][0] == 2


# --- 3. a feed that declares UTF-8 but sends windows-1251 ---------------------------------------
def test_a_feed_declaring_utf8_but_sending_windows_1251_is_read_right(
    tmp_path, mini_settings, bad_server
):
    path = _feed(tmp_path, bad_server, "ru-lying-charset.xml", full_text="never", lang="ru")
    summary = ingest_sources(mini_settings, path)["f"]
    assert summary["new"] == 2 and summary["error"] == 0
    docs = _rows(mini_settings, "SELECT title, text, lang FROM documents ORDER BY external_id")
    assert docs[0][0] == "В Казани открыли новый мост" and "через реку Казанку" in docs[0][1]
    assert docs[1][0] == "В Самаре отремонтировали набережную"
    assert {d[2] for d in docs} == {"ru"}


# --- 4. two corpus files with the same folder and file name -------------------------------------
def _corpus(tmp_path: Path, side: str) -> Path:
    path = tmp_path / side / "demo" / "corpus.jsonl"
    path.parent.mkdir(parents=True)
    # the same ids in both files, different texts: what two exports of one folder name look like
    rows = [
        _doc(i, text=f"File {side}, document {i}: " + json.loads(_doc(i))["text"]) for i in (1, 2)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _ingest_corpus(settings, corpus: Path) -> dict:
    from narratives.pipeline import recorded_run

    settings = settings.replace(corpus=corpus)
    with recorded_run(settings, "ingest") as run:
        return ingest_step(settings, run.id)


def test_two_corpus_files_with_the_same_folder_and_name_keep_their_own_documents(
    tmp_path, mini_settings
):
    from narratives.ingest.sources.corpus import read_jsonl
    from narratives.ingest.store import store_documents

    x, y = _corpus(tmp_path, "x"), _corpus(tmp_path, "y")
    # a database of an earlier release: x stored under the id that release gave it
    with writer(mini_settings.database) as con:
        store_documents(con, "file:demo/corpus.jsonl", read_jsonl(x))
    assert _ingest_corpus(mini_settings, x)["documents_new"] == 0  # its id did not change
    assert _ingest_corpus(mini_settings, y)["documents_new"] == 2  # not dropped as seen
    assert _ingest_corpus(mini_settings, y)["documents_new"] == 0
    assert _ingest_corpus(mini_settings, x)["documents_new"] == 0
    ids = _rows(mini_settings, "SELECT source_id, count(*) FROM documents GROUP BY 1 ORDER BY 1")
    assert len(ids) == 2 and ids[0] == ("file:demo/corpus.jsonl", 2) and ids[1][1] == 2
    # a new database: the first file keeps the plain id
    fresh = mini_settings.replace(home=tmp_path / "fresh")
    _ingest_corpus(fresh, y)
    assert _rows(fresh, "SELECT DISTINCT source_id FROM documents") == [("file:demo/corpus.jsonl",)]


# --- 5. no size limit on file documents ---------------------------------------------------------
def test_an_oversize_document_is_a_bad_item_not_thousands_of_passages(tmp_path, mini_settings):
    huge = ("The council met again to discuss the budget of the town. " * 180_000)[:10_000_000]
    path = _files(tmp_path, [_doc(1), json.dumps({"id": "huge", "text": huge}), _doc(2)])
    summary = ingest_sources(mini_settings, path)["docs"]
    assert summary["new"] == 2 and summary["error"] == 1 and summary["passages"] < 10
    reason = _rows(mini_settings, "SELECT reason FROM ingest_errors")[0][0]
    assert "10,000,000 characters of text, over the 200,000 limit" in reason


# --- 6. a damaged FAISS index or sidecar --------------------------------------------------------
def test_a_damaged_index_or_sidecar_is_rebuilt_for_search_and_run(
    tmp_path, mini_settings, hashing_embedder, monkeypatch, capsys
):
    from narratives import pipeline
    from narratives.cli import main
    from narratives.vectors.index import VectorIndex, index_path_for, sidecar_path
    from narratives.vectors.search import search

    pipeline.run_pipeline(mini_settings, hashing_embedder)
    path = index_path_for(mini_settings.index_dir, hashing_embedder.model_id)
    stored = VectorIndex.load(path).count()
    path.write_bytes(b"not a FAISS index")
    hits = search(mini_settings.database, mini_settings.index_dir, hashing_embedder, "concert")
    assert hits and hits[0]["text"]
    # the command too: results, no traceback
    monkeypatch.setattr("narratives.vectors.step.load_embedder", lambda *a: hashing_embedder)
    assert main(["--home", str(mini_settings.home), "-q", "search", "concert hall attack"]) == 0
    assert "score" in capsys.readouterr().out
    pipeline.run_pipeline(mini_settings, hashing_embedder)  # rebuilds the damaged index
    meta = json.loads(sidecar_path(path).read_text())
    sidecar_path(path).write_text(json.dumps(meta | {"written_by": "a newer release"}))
    assert search(mini_settings.database, mini_settings.index_dir, hashing_embedder, "concert")
    pipeline.run_pipeline(mini_settings, hashing_embedder)  # rebuilds, no TypeError
    assert VectorIndex.load(path).count() == stored
    assert "written_by" not in json.loads(sidecar_path(path).read_text())


# --- 7. a home path with a quote through the aggregate step -------------------------------------
def test_a_home_path_with_a_quote_goes_through_aggregate(tmp_path, mini_settings, hashing_embedder):
    from narratives import pipeline

    settings = mini_settings.replace(home=tmp_path / "o'brien's var")
    run = pipeline.run_pipeline(settings, hashing_embedder)
    assert run["status"] == "ok"
    exports = sorted(p.name for p in settings.exports_dir.rglob("*.parquet"))
    assert exports and all("'" not in name for name in exports)


# --- 10. narrative-set and corpus field validation ----------------------------------------------
@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda d: d["narratives"][0]["exemplars"].update(ru=[]), "narratives[0].exemplars.ru"),
        (lambda d: d["narratives"][0]["exemplars"].update(de=["Kiew."]),
         "narratives[0].exemplars.de"),
        (lambda d: d["narratives"][1].update(counter_exemplars={"fr": ["Non."]}),
         "narratives[1].counter_exemplars.fr"),
        (lambda d: d.update(background={"pl": ["Ratownicy."]}), "background.pl"),
        (lambda d: d.update(background={"en": []}), "background.en"),
        (lambda d: d.update(event={"description": "An attack.", "terms": {"de": ["Halle"]}}),
         "event.terms.de"),
    ],
)  # fmt: skip
def test_set_languages_must_be_tracked_and_lists_not_empty(mutate, where):
    from narratives.matching.sets import DefinitionError, parse_set

    data = yaml.safe_load((DATA / "mini-set.yaml").read_text(encoding="utf-8"))
    mutate(data)
    with pytest.raises(DefinitionError) as err:
        parse_set(data, "mini-set.yaml")
    assert err.value.where == where
    assert str(err.value).startswith(f"mini-set.yaml: {where}: ") and "\n" not in str(err.value)


def test_corpus_fields_are_checked_and_a_null_date_is_no_date(tmp_path, mini_settings):
    path = _files(tmp_path, [
        _doc(1, outlet_kind="independent"),
        _doc(2, outlet_kind="blog"),
        _doc(3, published_at=None),
        _doc(4, published_at="soon"),
        _doc(5, title={"en": "a title"}),
    ])  # fmt: skip
    summary = ingest_sources(mini_settings, path)["docs"]
    assert summary["new"] == 2 and summary["error"] == 3
    docs = _rows(mini_settings, "SELECT external_id, published_at FROM documents ORDER BY 1")
    assert docs == [("g-1", dt.datetime(2024, 4, 1, 10)), ("g-3", None)]
    reasons = dict(_rows(mini_settings, "SELECT item, reason FROM ingest_errors"))
    assert "outlet_kind 'blog' is not one of state-media" in reasons["docs.jsonl:2"]
    assert "'soon' is not a date" in reasons["docs.jsonl:4"]
    assert "title" in reasons["docs.jsonl:5"]


# --- 11. the URL guard --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 form of 169.254.169.254
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
        "http://[::ffff:169.254.169.254]/",
        "http://224.0.0.1/",
        "http://239.255.255.250:1900/",
        "http://[ff0e::1]/",
    ],
)
def test_the_url_guard_refuses_embedded_private_and_multicast_addresses(url):
    with pytest.raises(FetchError, match=r"private, loopback or reserved address \(") as err:
        check_url(url, allow_private=False)
    if "ff9b" in url or "2002" in url:
        assert "an IPv6 form of" in err.value.reason
    if url.startswith(("http://2", "http://[ff")):
        assert "multicast" in err.value.reason


def test_the_url_guard_allows_nat64_of_a_public_address():
    check_url("http://[64:ff9b::808:808]/", allow_private=False)  # 8.8.8.8 through NAT64


# --- 13. feed items without a date, or without a guid and a link --------------------------------
def test_feed_items_without_a_date_or_an_id_are_kept_once(tmp_path, mini_settings, bad_server):
    path = _feed(tmp_path, bad_server, "undated.xml", full_text="never")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    first = ingest_sources(mini_settings, path)["f"]
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert first["new"] == 3 and first["error"] == 0
    rows = _rows(mini_settings, "SELECT external_id, published_at, meta->>'date_inferred', title "
                 "FROM documents ORDER BY title")  # fmt: skip
    by_title = {r[3]: r for r in rows}
    assert by_title["Bridge repairs finished"][1:3] == (dt.datetime(2024, 4, 5, 9), None)
    undated = by_title["Museum opens new wing"]
    assert undated[0] == "u-undated" and before <= undated[1] <= after and undated[2] == "true"
    anonymous = by_title["Choir wins competition"]
    assert anonymous[0].startswith("sha1:") and anonymous[2] == "true"
    # read in full again (no 304): the same three items, nothing new
    with writer(mini_settings.database) as con:
        con.execute("UPDATE source_state SET etag = NULL, last_modified = NULL")
    again = ingest_sources(mini_settings, path)["f"]
    assert again["status"] == "ok" and again["new"] == 0 and again["duplicate"] == 3


# --- a thousand good items and ten bad ones of each kind ----------------------------------------
BAD_KINDS = {
    "not an object": (lambda i: json.dumps([i, i + 1]), "expected a JSON object"),
    "not JSON": (lambda i: f'{{"id": "b-{i}", "text": ', "not valid JSON"),
    "no text": (lambda i: json.dumps({"id": f"b-{i}", "text": "  "}), "has no text"),
    "text not text": (lambda i: json.dumps({"id": f"b-{i}", "text": i}), "has no text"),
    "no id": (lambda i: json.dumps({"text": f"An item {i} without an id or a url."}),
              "neither 'id' nor 'url'"),
    "bad date": (lambda i: _doc(10_000 + i, published_at="32/13/2024"), "is not a date"),
    "oversize": (lambda i: _doc(20_000 + i, text="word " * 50_000), "over the 200,000 limit"),
    "bad outlet_kind": (lambda i: _doc(30_000 + i, outlet_kind="tabloid"), "outlet_kind"),
    "not UTF-8": (lambda i: _doc(40_000 + i, text=f"Новость {i} о мосте.").encode()
                  .replace("Новость".encode(), "Новость".encode("cp1251")), "not UTF-8"),
    "title not text": (lambda i: _doc(50_000 + i, title=["a", "b"]), "title"),
}  # fmt: skip


def test_a_thousand_good_items_are_stored_and_each_bad_one_recorded(tmp_path, mini_settings):
    lines: list[str | bytes] = []
    expected: dict[int, str] = {}  # line number -> a piece of its reason
    for i in range(1000):
        lines.append(_doc(i))
        if i % 10 == 0:  # a bad line of each kind among every hundred good ones
            kind = list(BAD_KINDS)[(i // 10) % len(BAD_KINDS)]
            make, reason = BAD_KINDS[kind]
            lines.append(make(i))
            expected[len(lines)] = reason
    assert len(expected) == 100
    summary = ingest_sources(mini_settings, _files(tmp_path, lines))["docs"]
    assert summary["new"] + summary["reprint"] == 1000 and summary["error"] == 100
    assert _rows(mini_settings, "SELECT count(*) FROM documents")[0][0] == 1000
    errors = dict(_rows(mini_settings, "SELECT item, reason FROM ingest_errors"))
    assert len(errors) == 100
    for line, reason in expected.items():
        assert reason in errors[f"docs.jsonl:{line}"], (line, errors[f"docs.jsonl:{line}"])
    again = ingest_sources(mini_settings, _files(tmp_path, lines))["docs"]
    assert again["new"] == again["error"] == 0 and again["duplicate"] == 1000
