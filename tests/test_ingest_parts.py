"""The parts of ingest on their own: the sources file, charsets, URL checks, duplicates."""

import socket

import pytest

from narratives.core.store import reader, writer
from narratives.ingest import dedup
from narratives.ingest.http import FetchError, check_url, decode
from narratives.ingest.sources.corpus import read_jsonl
from narratives.ingest.sources.feeds import html_to_text
from narratives.ingest.sources_file import SourcesError, load_sources
from narratives.ingest.store import store_documents

GOOD = """
[[sources]]
id = "a"
kind = "feed"
url = "https://example.org/rss"
outlet = "Example"
"""


def _write(tmp_path, text):
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        ('kind = "rss"', r"sources\.toml: sources\[1\] \(b\)\.kind: 'rss' is not one of feed"),
        (
            'url = "ftp://x.org/f"',
            r"sources\[1\] \(b\)\.url: 'ftp://x.org/f' is not an http\(s\) URL",
        ),
        ('lang = "de"', r"sources\[1\] \(b\)\.lang: 'de' is not one of en, ru, uk"),
        ("timeout_s = -1", r"sources\[1\] \(b\)\.timeout_s: must be positive"),
        ('path = "x.json"', r"sources\[1\] \(b\): unknown key\(s\) \['path'\] for kind 'feed'"),
        ('outlet_kind = "blog"', r"sources\[1\] \(b\)\.outlet_kind: 'blog' is not one of"),
    ],
)
def test_sources_file_errors_name_the_file_and_the_key(tmp_path, extra, message):
    second = '[[sources]]\nid = "b"\nkind = "feed"\nurl = "https://x.org/f"\noutlet = "B"\n'
    lines = [line for line in second.splitlines() if line.split(" =")[0] != extra.split(" =")[0]]
    path = _write(tmp_path, GOOD + "\n".join(lines + [extra]) + "\n")
    with pytest.raises(SourcesError, match=message):
        load_sources(path)


def test_sources_file_other_mistakes(tmp_path):
    with pytest.raises(SourcesError, match=r"sources\.toml: not valid TOML"):
        load_sources(_write(tmp_path, "[[sources]\n"))
    with pytest.raises(SourcesError, match=r"sources\[1\]\.id: 'a' is used by another source"):
        load_sources(_write(tmp_path, GOOD + GOOD))
    with pytest.raises(SourcesError, match=r"sources\[0\] \(a\)\.outlet: missing"):
        load_sources(_write(tmp_path, GOOD.replace('outlet = "Example"', "")))
    with pytest.raises(FileNotFoundError, match="sources.example.toml"):
        load_sources(tmp_path / "nope.toml")


def test_shipped_example_sources_file_is_valid(data_dir):
    sources = load_sources(data_dir.parent.parent / "data" / "sources.example.toml")
    langs = {s.lang for s in sources}
    kinds = {s.outlet_kind for s in sources}
    assert {"en", "ru", "uk"} <= langs
    assert {"state-media", "independent", "ukrainian", "international", "telegram"} <= kinds
    assert not any(s.allow_private for s in sources)


def test_charsets_from_header_meta_or_detection():
    ru = "Синоптики предупредили москвичей о сильном снегопаде в ближайшие выходные."
    uk = "Одеський оперний театр відкриває новий сезон прем'єрою опери."
    meta = f'<html><head><meta charset="windows-1251"></head><body>{ru}</body></html>'
    assert ru in decode(meta.encode("cp1251"), "text/html")
    assert uk in decode(f"<p>{uk}</p>".encode("koi8_u"), "text/html; charset=KOI8-U")
    # a wrong declaration (UTF-8 for windows-1251 bytes) falls back to detection
    assert ru in decode(f"<p>{ru} {ru}</p>".encode("cp1251"), "text/html; charset=utf-8")
    # and no declaration at all
    assert uk in decode(f"<p>{uk} {uk}</p>".encode("koi8_u"), "text/html")


def test_only_public_http_addresses_unless_allowed():
    for url in ("file:///etc/passwd", "ftp://example.org/x", "gopher://example.org/"):
        with pytest.raises(FetchError, match="only http and https"):
            check_url(url, allow_private=True)
    for url in (
        "http://127.0.0.1/x",
        "http://10.0.0.8/",
        "http://[::1]/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(FetchError, match="private, loopback or reserved"):
            check_url(url, allow_private=False)
    check_url("http://127.0.0.1:8080/feed", allow_private=True)


def test_a_source_that_cannot_be_reached_is_left_to_the_retry(tmp_path, mini_settings):
    from narratives.ingest.sources_file import Source
    from narratives.ingest.step import SourceUnreachable, read

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = Source("gone", "feed", "Gone", urls=(f"http://127.0.0.1:{port}/rss",),
                    allow_private=True, timeout_s=2)  # fmt: skip
    with pytest.raises(SourceUnreachable, match="could not reach"):
        read(mini_settings, source, retrying=True)
    last_try = read(mini_settings, source)  # the last try records it instead
    assert [p.reason[:15] for p in last_try.items] == ["could not reach"]


def test_html_fragments_become_lines_of_text():
    html = "<p>First <b>bold</b> line.</p><p>Second<br>third</p><script>x()</script>"
    assert html_to_text(html) == "First bold line.\nSecond\nthird"


def test_exact_near_and_distinct_texts():
    base = ("The council of a small town voted on Tuesday to close the old market hall for two "
            "years of repairs, and traders will move to a temporary site near the station.")  # fmt: skip
    assert dedup.content_hash(base) == dedup.content_hash("  " + base.upper().replace(",", " ,"))
    near = "BREAKING: " + base.replace("Tuesday", "Monday")
    other = ("Fishermen on the northern coast reported the largest catch of herring in a decade, "
             "and prices at the harbour fell sharply as boats returned.")  # fmt: skip
    a, b, c = (dedup.shingles(t) for t in (base, near, other))
    assert dedup.jaccard(a, b) >= dedup.NEAR_THRESHOLD > dedup.jaccard(a, c)
    assert dedup.signature(dedup.shingles("Too short to compare.")) is None


def test_demo_corpus_reprints_are_three_edges_to_the_earliest_copy(tmp_path, data_dir):
    corpus = data_dir.parent.parent / "data" / "demo" / "corpus.jsonl"
    with writer(tmp_path / "demo.duckdb") as con:
        result = store_documents(con, "demo", read_jsonl(corpus))
        edges = con.execute(
            "SELECT o.external_id, c.external_id, r.kind FROM reprints r "
            "JOIN documents o ON o.id = r.original_id JOIN documents c ON c.id = r.reprint_id ORDER BY 2"
        ).fetchall()
        copies_passages = con.execute(
            "SELECT count(*) FROM passages p JOIN reprints r ON r.reprint_id = p.document_id"
        ).fetchall()[0][0]
        again = store_documents(con, "demo", read_jsonl(corpus))
    assert edges == [("demo-0055", "demo-0068", "near"), ("demo-0055", "demo-0070", "near"),
                     ("demo-0055", "demo-0086", "near")]  # fmt: skip
    assert result.reprints == 3 and copies_passages == 0
    assert again.documents_new == 0 and again.documents_seen == result.documents_new


def test_parquet_file_and_a_dataset_folder_with_a_column_mapping(tmp_path, mini_settings):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from narratives.ingest.step import ingest_sources

    texts = [
        "Архітектори представили проєкт відновлення старого річкового вокзалу в Черкасах.",
        "В Томске открыли новый корпус детской больницы на триста мест.",
    ]
    table = pa.table({
        "key": ["p-1", "p-2"], "content": texts, "site": ["Черкаси сьогодні", "Томск Онлайн"],
        "when": [dt.datetime(2024, 4, 1, 9), dt.datetime(2024, 4, 2, 9)],
    })  # fmt: skip
    pq.write_table(table, tmp_path / "docs.parquet")
    folder = tmp_path / "dataset"
    folder.mkdir()
    pq.write_table(table, folder / "train.parquet")
    mapping = 'columns = { id = "key", text = "content", outlet = "site", published_at = "when" }'
    path = _write(
        tmp_path,
        f"""
[[sources]]
id = "pq"
kind = "files"
path = "docs.parquet"
outlet = "Parquet"
{mapping}

[[sources]]
id = "hub"
kind = "hf-dataset"
name = "{folder}"
outlet = "Dataset"
{mapping}
""",
    )
    summary = ingest_sources(mini_settings, path)
    assert summary["pq"]["new"] == 2 and summary["pq"]["error"] == 0
    # the same texts from the second source are exact copies: reprint edges, no new passages
    assert summary["hub"]["reprint"] == 2 and summary["hub"]["passages"] == 0
    with reader(mini_settings.database) as con:
        rows = con.execute(
            "SELECT d.external_id, d.lang, o.name, d.published_at FROM documents d "
            "JOIN outlets o ON o.id = d.outlet_id WHERE source_id = 'pq' ORDER BY 1"
        ).fetchall()
    assert rows == [("p-1", "uk", "Черкаси сьогодні", dt.datetime(2024, 4, 1, 9)),
                    ("p-2", "ru", "Томск Онлайн", dt.datetime(2024, 4, 2, 9))]  # fmt: skip
