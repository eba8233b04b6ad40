"""`narratives ingest / sources / errors` and the Prefect `ingest` flow over the test server."""

from flows.pipeline import ingest_flow, pipeline_flow
from narratives.cli import main
from narratives.core.store import reader
from narratives.ingest.state import ingest_lock

SMALL = """
[[sources]]
id = "uk-kyiv"
kind = "feed"
url = "{base}/feeds/uk-atom.xml"
outlet = "Тестовий Київ"
outlet_kind = "ukrainian"
full_text = "never"
allow_private = true

[[sources]]
id = "changing"
kind = "feed"
url = "{base}/feeds/changing.xml"
outlet = "Changing Times"
full_text = "never"
allow_private = true

[[sources]]
id = "dates"
kind = "feed"
url = "{base}/feeds/bad-dates.xml"
outlet = "Dates Daily"
full_text = "never"
allow_private = true
"""


def _small(tmp_path, server):
    path = tmp_path / "small.toml"
    path.write_text(SMALL.replace("{base}", server.base), encoding="utf-8")
    return path


def test_cli_ingest_sources_and_errors(tmp_path, capsys, ingest_server):
    path = _small(tmp_path, ingest_server)
    common = ["--home", str(tmp_path / "var"), "-q"]
    assert main(common + ["ingest", str(path), "--no-prefect"]) == 0
    out = capsys.readouterr().out
    assert "changing" in out and "2 bad item(s) skipped" in out
    assert main(common + ["ingest", str(path), "--no-prefect", "--source", "changing"]) == 0
    assert "not-modified" in capsys.readouterr().out
    assert main(common + ["sources"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert " not-modified " in lines["changing"] and " ok " in lines["uk-kyiv"]
    assert " partial " in lines["dates"] and "is not a date" in lines["dates"]
    assert main(common + ["errors", "--source", "dates"]) == 0
    out = capsys.readouterr().out
    assert "d-bad" in out and "is not a date" in out and "uk-kyiv" not in out
    assert "d-none" not in out  # no date: kept, the time first seen stands in (issue 14)
    assert main(common + ["ingest", str(path), "--source", "nope", "--no-prefect"]) == 2
    assert "no source 'nope'" in capsys.readouterr().err
    with ingest_lock(tmp_path / "var"):
        assert main(common + ["ingest", str(path), "--no-prefect"]) == 2
    assert "another ingest is running" in capsys.readouterr().err


def test_ingest_flow_maps_over_sources_and_the_pipeline_embeds_only_new_passages(
    prefect_harness, mini_settings, tmp_path, ingest_server
):
    settings = mini_settings.replace(sources=_small(tmp_path, ingest_server))
    counts = ingest_flow(settings.to_dict())
    assert {k: (v["new"], v["error"]) for k, v in counts["sources"].items()} == {
        "uk-kyiv": (2, 0), "changing": (5, 0), "dates": (2, 2)}  # fmt: skip
    with reader(settings.database) as con:
        run = con.execute("SELECT kind, status, counts->>'documents_new' FROM runs").fetchall()
    assert run == [("ingest", "ok", "9")]

    ingest_server.changing_items = 8
    first = pipeline_flow(settings.to_dict())
    assert first["status"] == "ok" and first["counts"]["documents_new"] == 3
    assert first["counts"]["embeddings_new"] == first["counts"]["passages_matched"] > 0
    ingest_server.changing_items = 8
    again = pipeline_flow(settings.to_dict())
    c = again["counts"]
    assert (c["documents_new"], c["passages_new"], c["embeddings_new"], c["passages_matched"]) == (
        0,
        0,
        0,
        0,
    )
