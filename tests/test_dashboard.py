"""Each dashboard page under Streamlit's AppTest, against a small database built by the real
pipeline (mini corpus, real e5), asserting on the numbers shown against queries made by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import charts as charts_module
from dashboards import data, drafts
from narratives.core.store import reader, writer
from narratives.matching.sets import load_set
from narratives.prevalence import snapshots
from tests import dashboard_db
from tests.dashboard_db import DOCUMENTS


@pytest.fixture(scope="module")
def built(tmp_path_factory, e5):
    return dashboard_db.build(tmp_path_factory.mktemp("dashboard"), e5, discover=True)


@pytest.fixture
def settings(built, monkeypatch):
    settings, _ = built
    for name, value in dashboard_db.env(settings).items():
        monkeypatch.setenv(name, value)
    return settings


def open_page(page: str, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(str(dashboard_db.APP), default_timeout=timeout).run()
    if page != "home":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table shown whose columns start with these (st.dataframe has no test key)."""
    for d in at.dataframe:
        df = d.value
        if list(df.columns[: len(columns)]) == list(columns):
            return df
    raise AssertionError(
        f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}"
    )


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def chart_tables(chart) -> list[pd.DataFrame]:
    import pyarrow as pa

    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]


def snapshot_db(settings):
    return snapshots.current(settings.snapshots_dir).database


def sql(settings, query: str, params=None) -> list[tuple]:
    with reader(snapshot_db(settings)) as con:
        return con.execute(query, params or []).fetchall()


def confirmed_docs(settings, lang: str | None = None) -> dict[str, int]:
    """Documents carrying each narrative by hand: a passage confirmed, in scope, asserting it."""
    rows = sql(
        settings,
        "SELECT narrative_id, count(DISTINCT document_id) FROM live_matches "
        "WHERE carries AND (? IS NULL OR lang = ?) GROUP BY 1",
        [lang, lang],
    )
    return dict(rows)


def test_pipeline_publishes_a_snapshot_the_dashboard_reads(built):
    settings, run = built
    snap = snapshots.current(settings.snapshots_dir)
    assert snap is not None and snap.run_id == run["id"]
    assert snap.database != settings.database and snap.index_dir.exists()
    with reader(snap.database) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchall()[0][0] == DOCUMENTS


def test_prevalence_page_shows_counts_shares_and_denominators(settings):
    at = open_page("prevalence")
    totals = frame(at, "narrative", "documents", "all_documents").set_index("narrative")
    by_hand = confirmed_docs(settings)
    assert set(totals.index) == {"ukraine-involved", "isk-responsible"}
    for narrative, row in totals.iterrows():
        assert row["documents"] == by_hand.get(narrative, 0)
        assert row["all_documents"] == DOCUMENTS  # every stored document, each once
        assert row["share"] == pytest.approx(row["documents"] / DOCUMENTS)
    assert by_hand["isk-responsible"] >= 3
    # small multiples (one chart of two narratives) and the coverage chart in share mode
    assert len(charts(at)) == 2
    spec = json.loads(charts(at)[0].proto.spec)
    assert [c["layer"][0]["title"] for c in spec["vconcat"]] == [
        "isk-responsible: IS-K carried out the attack", "ukraine-involved: Ukraine was involved"]  # fmt: skip
    tables = chart_tables(charts(at)[0])
    marker = next(t for t in tables if "label" in t.columns)
    assert marker["label"].tolist() == ["event 2024-03-22"]  # the set's event date
    lines = pd.concat([t for t in tables if "share" in t.columns])
    # one line per language: a document carrying it in two languages is on both lines
    per_lang = {n: sum(confirmed_docs(settings, lang).get(n, 0) for lang in ("en", "ru", "uk"))
                for n in by_hand}  # fmt: skip
    assert lines.groupby("narrative")["documents"].sum().to_dict() == per_lang
    # no language "other": the German passage's language is not a line, the page says why
    assert set(lines["lang"]) <= {"en", "ru", "uk"}
    assert any("could not be told" in c.value for c in at.caption)

    at.radio(key="measure").set_value("documents").run()
    assert len(charts(at)) == 1  # counts: no denominator chart
    at.sidebar.multiselect(key="langs").set_value(["ru"]).run()
    totals = frame(at, "narrative", "documents", "all_documents").set_index("narrative")
    ru = confirmed_docs(settings, "ru")
    assert (totals["all_documents"] == 5).all()  # four Russian, one in Russian and English
    assert totals["documents"].to_dict() == {n: ru.get(n, 0) for n in totals.index}


def test_prevalence_draws_bands_marks_small_samples_and_spans_each_week(settings):
    at = open_page("prevalence")
    spec = json.loads(charts(at)[0].proto.spec)
    for panel in spec["vconcat"]:
        band = next(lay for lay in panel["layer"] if lay.get("mark", {}).get("type") == "rect")
        band = band["encoding"]
        assert (band["y"]["field"], band["y2"]["field"]) == ("lo", "hi")  # the 95% interval
        assert (band["x"]["field"], band["x2"]["field"]) == ("start", "end")  # the whole week
    rows = pd.concat([t for t in chart_tables(charts(at)[0]) if "share" in t.columns])
    # raw here (no audit labels): the band is the Wilson interval around the raw share
    assert set(rows["drawn"]) == {"raw"} and rows["value"].equals(rows["share"])
    assert ((rows["lo"] <= rows["value"] + 1e-12) & (rows["value"] <= rows["hi"] + 1e-12)).all()
    assert (rows["small"] == (rows["all_documents"] < charts_module.MIN_N)).all()
    assert rows["small"].any()  # the mini corpus has weeks with few documents: marked
    spans = pd.to_datetime(rows["end"]) - pd.to_datetime(rows["start"])
    assert (spans == pd.Timedelta(days=7)).all()
    assert (pd.to_datetime(rows["start"]).dt.dayofweek == 0).all()  # Monday-based weeks
    # the event's line lies inside the span of the week holding the event
    marker = next(t for t in chart_tables(charts(at)[0]) if "label" in t.columns)
    event = pd.Timestamp(marker["event"].iloc[0]).tz_localize(None)
    week = rows[(pd.to_datetime(rows["start"]) <= event) & (event < pd.to_datetime(rows["end"]))]
    assert len(week)  # the bands and segments of that week cross the event line
    assert any(f"fewer than {charts_module.MIN_N} documents" in c.value for c in at.caption)


def test_a_point_shows_the_passages_behind_it(settings):
    at = open_page("prevalence")
    at.selectbox(key="pt_narrative").set_value("isk-responsible").run()
    at.selectbox(key="pt_lang").set_value("en").run()
    rows = frame(at, "narrative", "tier", "score")
    period = pd.Timestamp(at.selectbox(key="pt_period").value)
    assert len(rows) and set(rows["narrative"]) == {"isk-responsible"}
    assert set(rows["lang"]) == {"en"} and set(rows["tier"]) == {"confirmed"}
    assert all(period <= d <= period + pd.Timedelta(days=6) for d in pd.to_datetime(rows["day"]))
    assert {"nearest_exemplar", "margin", "score", "url"} <= set(rows.columns)


def test_competing_explanations_shares_sum_to_one_per_language(settings):
    at = open_page("competing")
    assert len(charts(at)) == 1
    totals = frame(at, "group", "narrative", "documents")
    assert totals.groupby("group")["share"].sum().to_numpy() == pytest.approx(1.0)
    carrying = [lang for lang in ("en", "ru", "uk") if confirmed_docs(settings, lang)]
    assert len(carrying) >= 2 and set(totals["group"]) == set(carrying)
    for lang in carrying:
        by_hand = confirmed_docs(settings, lang)
        shown = totals[totals["group"] == lang].set_index("narrative")["documents"].to_dict()
        assert shown == {n: c for n, c in by_hand.items() if c}
        leader = (
            frame(at, "group", "dominant narrative")
            .set_index("group")
            .loc[lang, "dominant narrative"]
        )
        assert by_hand[leader] == max(by_hand.values())
    # the passages behind one bar: Russian documents of one narrative in one week
    at.selectbox(key="bar_group").set_value("ru").run()
    narrative = at.selectbox(key="bar_narrative").value
    rows = frame(at, "narrative", "tier", "score")
    assert len(rows) and set(rows["lang"]) == {"ru"} and set(rows["narrative"]) == {narrative}


def test_evidence_page_filters_and_exports_exactly_the_rows(settings):
    at = open_page("evidence")
    confirmed = sql(settings, "SELECT count(*) FROM live_matches WHERE decision = 'confirmed'")
    assert at.metric[0].value == str(confirmed[0][0])
    at.multiselect(key="tiers").set_value([]).run()  # all tiers: every stored match row
    every = sql(settings, "SELECT count(*) FROM live_matches")[0][0]
    assert (
        at.metric[0].value == str(every)
        and every == 2 * sql(settings, "SELECT count(*) FROM passages")[0][0]
    )
    at.multiselect(key="narr").set_value(["ukraine-involved"]).run()
    at.sidebar.multiselect(key="langs").set_value(["uk"]).run()
    rows = frame(at, "narrative", "tier", "score")
    assert set(rows["narrative"]) == {"ukraine-involved"} and set(rows["lang"]) == {"uk"}
    assert len(at.get("download_button")) == 2
    # the export is exactly those rows, in both formats
    f = data.Filters(*sql(settings, "SELECT min(day), max(day) FROM passage_facts")[0], ("uk",))
    shown = data.evidence(snapshot_db(settings), f, ["ukraine-involved"], tiers=None)
    assert len(shown) == len(rows)
    assert pd.read_csv(pd.io.common.BytesIO(data.to_csv(shown)))["passage_id"].tolist() == (
        rows["passage_id"].tolist()
    )
    assert pd.read_parquet(pd.io.common.BytesIO(data.to_parquet(shown))).equals(shown)


def test_untrusted_text_is_shown_as_plain_text(settings):
    at = open_page("evidence")
    at.multiselect(key="tiers").set_value([]).run()
    at.multiselect(key="outlets").set_value([dashboard_db.HOSTILE_OUTLET]).run()
    shown = [t.value for t in at.text]
    assert any(dashboard_db.HOSTILE_SNIPPET in t and "[click here](" in t for t in shown)
    # never through markdown or HTML
    rendered = [m.value for m in at.markdown] + [h.proto.body for h in at.get("html")]
    assert not any("xss" in m or "evil.example" in m or "Hostile" in m for m in rendered)


def test_outlets_heat_map_is_the_share_of_each_outlets_passages(settings):
    at = open_page("outlets")
    assert len(charts(at)) == 1
    table = frame(at, "outlet", "outlet_kind").set_index("outlet")
    matched, total = sql(
        settings,
        "SELECT (SELECT count(DISTINCT passage_id) FROM live_matches WHERE outlet = 'Test Wire' "
        "AND narrative_id = 'isk-responsible' AND decision = 'confirmed'), "
        "(SELECT count(*) FROM passage_facts WHERE outlet = 'Test Wire')",
    )[0]
    assert table.loc["Test Wire", "isk-responsible"] == pytest.approx(matched / total)
    assert matched >= 1


def test_provenance_names_the_run_model_and_set_version(settings, built, e5):
    _, run = built
    at = open_page("provenance")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Published run": str(run["id"]), "Documents": str(DOCUMENTS), "Passages": str(
        sql(settings, "SELECT count(*) FROM passages")[0][0])}  # fmt: skip
    live = frame(at, "set_id", "set_version", "model_id").iloc[0]
    assert (live["model_id"], live["set_id"], live["set_version"]) == (
        e5.model_id, "mini", run["set_version"],
    )  # fmt: skip
    assert frame(at, "run", "kind").iloc[0]["run"] == run["id"]
    # a run's components, parameters and counts as tables, not JSON; no "None" anywhere
    counts = frame(at, "setting", "value")
    assert len(counts) and not counts["value"].astype(str).str.startswith("{").any()
    for d in at.dataframe:
        text = d.value.select_dtypes(exclude="number")
        assert not text.isna().any().any() and not (text.astype(str) == "None").any().any()
    assert any("published" in t.value for t in at.sidebar.text)


def test_search_ranks_by_similarity_with_facets_and_saves_a_draft_narrative(settings):
    at = open_page("search", timeout=180)
    at.text_input(key="query").set_value("Ukraine organised the concert hall attack").run()
    assert not at.exception
    hits = frame(at, "rank", "score", "lang")
    assert {"en", "ru", "uk"} <= set(hits["lang"]) and "other" not in set(hits["lang"])
    assert hits["score"].is_monotonic_decreasing  # one ranking by relevance
    cut = at.number_input(key="cut").value
    assert (hits["score"] >= cut).all() and cut > 0
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Results"] == str(len(hits))
    assert all(metrics[lang] == str((hits["lang"] == lang).sum()) for lang in ("en", "ru", "uk"))
    assert at.multiselect(key="draft_rows").value == []  # nothing preselected

    at.text_input(key="draft_id").set_value("kyiv-window")
    at.button[0].click().run()  # the form's submit button, nothing chosen
    assert at.error and not settings.drafts_dir.exists()
    at.text_input(key="draft_id").set_value("Not A Slug")
    at.multiselect(key="draft_rows").set_value([1])
    at.button[0].click().run()
    assert at.error and not settings.drafts_dir.exists()

    at.text_input(key="draft_id").set_value("kyiv-window")
    at.text_input(key="draft_label").set_value("Kyiv prepared a window")
    at.multiselect(key="draft_rows").set_value([1, 2, 3])
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    draft = load_set(settings.drafts_dir / "kyiv-window.yaml")
    narrative = draft.narratives[0]
    assert narrative.status == "draft" and narrative.label == "Kyiv prepared a window"
    assert narrative.description == "Ukraine organised the concert hall attack"
    chosen = hits.iloc[:3]
    assert sum(len(v) for v in narrative.exemplars.values()) == 3
    assert set(narrative.exemplars) == set(chosen["lang"])


def test_discovery_alerts_and_spread_pages(settings):
    clusters = sql(settings, "SELECT count(*) FROM clusters WHERE clustering_id = "
                             "(SELECT max(id) FROM clusterings WHERE scope = 'all')")[0][0]  # fmt: skip
    assert clusters >= 1
    at = open_page("discovery")
    assert {m.label: m.value for m in at.metric}["Clusters"] == str(clusters)
    assert len(frame(at, "lang", "terms")) >= 1  # key terms of the first cluster
    assert len(frame(at, "lang", "rank", "similarity", "outlet", "day", "passage")) >= 1
    at.text_input(key="promote_id").set_value("cluster-draft")
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    assert load_set(settings.drafts_dir / "cluster-draft.yaml").narratives[0].status == "draft"

    at = open_page("alerts")
    alerts = sql(settings, "SELECT count(*) FROM alerts")[0][0]
    assert {m.label: m.value for m in at.metric}["Alerts"] == str(alerts)

    at = open_page("spread")
    at.selectbox(key="narrative").set_value("ukraine-involved").run()
    assert not at.exception, [e.value for e in at.exception]
    first = frame(at, "lang", "outlet kind", "first")
    assert set(first["lang"]) == {
        r[0] for r in sql(settings, "SELECT DISTINCT lang FROM live_matches "
                                    "WHERE narrative_id = 'ukraine-involved' AND carries")
    }  # fmt: skip


def test_a_draft_is_never_overwritten_by_accident(tmp_path):
    nset = drafts.draft_set("x-claim", "X", "query", [{"lang": "en", "text": "a claim"}])
    drafts.save_draft(nset, tmp_path)
    with pytest.raises(ValueError, match="exists already"):
        drafts.save_draft(nset, tmp_path)
    assert drafts.save_draft(nset, tmp_path, overwrite=True).exists()


def test_pages_read_the_snapshot_while_a_writer_holds_the_database(settings):
    with writer(settings.database, 5):  # a pipeline step in progress
        for page in ("prevalence", "evidence", "provenance"):
            at = open_page(page)
            assert not at.error and len(at.dataframe) >= 1


def test_no_snapshot_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("NARRATIVES_HOME", str(tmp_path / "empty"))
    at = AppTest.from_file(str(dashboard_db.APP), default_timeout=30).run()
    assert not at.exception
    assert "No published snapshot" in at.error[0].value and "narratives run" in at.error[0].value


def test_a_document_in_two_languages_counts_once_in_every_total(built, settings, capsys):
    """t-mixed-1 has an English and a Russian passage, both carrying ukraine-involved: it counts
    in each language's column and once in every total: CLI, dashboard and the SQL views."""
    from narratives.cli import main

    db = snapshot_db(settings)
    langs = dict(sql(settings, "SELECT p.lang, count(*) FROM passages p JOIN documents d "
                               "ON d.id = p.document_id WHERE d.external_id = 't-mixed-1' GROUP BY 1"))  # fmt: skip
    assert set(langs) == {"en", "ru"}
    confirmed = sql(settings, "SELECT DISTINCT m.lang FROM live_matches m JOIN documents d ON "
                              "d.id = m.document_id WHERE d.external_id = 't-mixed-1' AND "
                              "m.narrative_id = 'ukraine-involved' AND m.carries")  # fmt: skip
    assert sorted(r[0] for r in confirmed) == ["en", "ru"]
    carrying = confirmed_docs(settings)["ukraine-involved"]
    per_lang = sum(
        confirmed_docs(settings, lang).get("ukraine-involved", 0) for lang in ("en", "ru", "uk")
    )
    assert per_lang == carrying + 1  # the mixed document is in two language columns...

    # ...and once in the totals: the SQL views
    views = dict(sql(settings, "SELECT lang = 'all', sum(total_documents) FROM (SELECT * FROM "
                               "prevalence_daily UNION ALL SELECT * FROM prevalence_daily_all) "
                               "WHERE narrative_id = 'ukraine-involved' GROUP BY 1"))  # fmt: skip
    # per language the mixed document counts twice, and the hostile one too (its German
    # passage is in 'other')
    assert views == {True: DOCUMENTS, False: DOCUMENTS + 2}
    assert sql(settings, "SELECT sum(matched_documents) FROM prevalence_weekly_all "
                         "WHERE narrative_id = 'ukraine-involved'")[0][0] == carrying  # fmt: skip
    # the CLI
    assert (
        main(["--db", str(db), "prevalence", "--by", "total", "--narrative", "ukraine-involved"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("period"))
    header, row = lines[at].split(), lines[at + 2].split()
    # the columns up to the raw totals (the corrected ones are blank without an audit)
    cells = dict(zip(header[: header.index("all_ci95") + 1], row, strict=False))
    assert int(cells["all_docs"]) == carrying
    assert float(cells["all_pct"]) == round(100 * carrying / DOCUMENTS, 1)
    assert sum(int(cells[f"{lang}_docs"]) for lang in ("en", "ru", "uk")) == carrying + 1
    # the dashboard's query
    total = data.prevalence(db, data.Filters(), "total", split_lang=False)
    mixed = total.set_index("narrative").loc["ukraine-involved"]
    assert (mixed["documents"], mixed["all_documents"]) == (carrying, DOCUMENTS)


def test_contested_page_shows_each_stance_of_a_narrative(settings):
    at = open_page("contested")
    at.selectbox(key="narrative").set_value("ukraine-involved").run()
    assert not at.exception, [e.value for e in at.exception]
    totals = frame(at, "stance", "documents").set_index("stance")["documents"].to_dict()
    by_hand = dict(sql(settings, "SELECT stance, count(DISTINCT document_id) FROM live_matches "
                                 "WHERE narrative_id = 'ukraine-involved' AND decision = 'confirmed' "
                                 "GROUP BY 1"))  # fmt: skip
    # a document has one day, so its periods partition the documents: the sums are exact
    assert totals == by_hand and by_hand
    assert len(charts(at)) == 1
