"""Every command that prints rows prints them for a program too: `--format json` is a list of
objects keyed by the table's columns (one object of lists for the commands with several tables),
`--format csv` the same rows with a header, and neither cuts a long cell. Unknown filter values
are an error that names the valid ones. On a database built by the real pipeline and model."""

from __future__ import annotations

import csv
import io
import json

import pytest

from narratives.cli import main
from tests import analyst_db

# command -> the columns of its rows (None: an object of tables; the keys listed are checked)
COMMANDS = {
    "prevalence --by day": ["period", "narrative_id"],
    "prevalence --by total --of all": ["period", "narrative_id"],
    "contested": ["period", "narrative_id", "stance", "en", "ru", "uk", "all"],
    "coverage --by day": ["period", "lang", "documents", "event_documents", "event_share"],
    "search concert -k 3": ["score", "lang", "outlet", "date", "passage"],
    "list": ["set_id"],
    "agreement": None,
    "show ukraine-involved": None,
    "sources": [],
    "errors": [],
    "labels list": [],
    "clusters": [
        "id",
        "status",
        "passages",
        "docs",
        "en",
        "ru",
        "uk",
        "coherence",
        "nearest",
        "similarity",
        "confirmed",
        "first",
        "last",
        "terms",
    ],  # fmt: skip
    "alerts": [],
    "leadlag ukraine-involved": None,
    "amplifiers": [
        "outlet",
        "kind",
        "role",
        "originated",
        "amplified",
        "reach",
        "score",
        "median_delay_h",
    ],  # fmt: skip
    "sql 'SELECT day, lang, matched_documents FROM prevalence_by_day LIMIT 3'": [
        "day",
        "lang",
        "matched_documents",
    ],  # fmt: skip
}


@pytest.fixture(scope="module")
def analyst(tmp_path_factory, e5):
    return analyst_db.build(tmp_path_factory.mktemp("formats"), e5)


def _run(settings, capsys, command: str, *extra: str) -> tuple[int, str, str]:
    import shlex

    code = main(["--home", str(settings.home), "-q", *shlex.split(command), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_round_trips_with_the_columns(analyst, capsys, command):
    code, out, err = _run(analyst, capsys, command, "--format", "json")
    assert code == 0, err
    got = json.loads(out)  # nothing but the JSON on stdout
    expected = COMMANDS[command]
    if expected is None:  # several tables: one object of lists of objects
        tables = {k: v for k, v in got.items() if isinstance(v, list)}
        assert tables and all(isinstance(r, dict) for rows in tables.values() for r in rows)
        return
    assert isinstance(got, list)
    if expected:
        assert got, f"{command} printed no rows"
        assert list(got[0])[: len(expected)] == expected
        assert all(list(r) == list(got[0]) for r in got)


def test_csv_has_the_same_rows_as_json_and_cells_are_whole(analyst, capsys):
    _, out_json, _ = _run(analyst, capsys, "search concert -k 3", "--format", "json")
    _, out_csv, _ = _run(analyst, capsys, "search concert -k 3", "--format", "csv")
    _, out_table, _ = _run(analyst, capsys, "clusters", "--format", "table")
    _, clusters_json, _ = _run(analyst, capsys, "clusters", "--format", "json")
    rows = list(csv.DictReader(io.StringIO(out_csv)))
    as_json = json.loads(out_json)
    assert [r["passage"] for r in rows] == [r["passage"] for r in as_json]
    assert [float(r["score"]) for r in rows] == [r["score"] for r in as_json]  # not rounded
    terms = [r["terms"] for r in json.loads(clusters_json)]
    assert any(len(t) > 60 for t in terms) and "…" in out_table  # cut in the table only
    assert not any("…" in t for t in terms)
    day = json.loads(_run(analyst, capsys, "prevalence --by day", "--format", "json")[1])[0]
    assert len(day["period"]) == 10 and day["period"][4] == "-"  # ISO dates
    # the table's "4.6-69.9" is two numbers for a program
    assert "all_ci95" not in day and isinstance(day["all_ci95_lo"], float | None)
    assert all(isinstance(day[k], float) for k in ("all_ci95_lo", "all_ci95_hi") if day["all_docs"])


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("prevalence --outlet-kind nope", "unknown outlet kind 'nope'; valid: independent"),
        ("prevalence --narrative nope", "unknown narrative 'nope'; valid: isk-responsible"),
        ("contested --narrative nope", "unknown narrative 'nope'; valid:"),
        ("prevalence --lang xx", "invalid choice: 'xx'"),
        ("sql 'SELECT * FROM nothing_here'", "SQL: Catalog Error"),
    ],
)
def test_an_unknown_filter_value_is_an_error_naming_the_valid_ones(analyst, capsys, command, says):
    with pytest.raises(SystemExit) if "--lang" in command else _nothing():
        code, out, err = _run(analyst, capsys, command)
        assert code == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1
    if "--lang" in command:  # argparse's own exit
        assert says in capsys.readouterr().err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_one_cluster_and_a_discover_run_print_json_too(analyst, capsys):
    # last in the module: discover adds a clustering to the shared database
    first = json.loads(_run(analyst, capsys, "clusters", "--format", "json")[1])[0]
    code, out, err = _run(analyst, capsys, f"clusters {first['id']}", "--format", "json")
    assert code == 0, err
    one = json.loads(out)
    assert one["id"] == first["id"] and {"terms", "representatives", "sizes"} <= set(one)
    assert set(one["representatives"][0]) == {"lang", "rank", "sim", "outlet", "date", "passage"}
    code, out, err = _run(analyst, capsys, "discover --no-prefect --scope all", "--format", "json")
    assert code == 0, err
    assert "clusters_all" in {r["what"] for r in json.loads(out)}
