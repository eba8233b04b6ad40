"""What a command prints: a plain-text table for the terminal, or CSV or JSON for a script.

`--format table` (default) is for reading: long cells are cut with "…" and numbers rounded.
`--format csv|json` is for programs: no cell cut, no number rounded for display, ISO dates, and
nothing but the rows on stdout (the explanatory sentences a table carries are left out).
JSON is a list of objects keyed by the column names; a command with several tables (`show`,
`leadlag`, `clusters ID`) prints one object with a list per table, and its CSV is the main one.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys

FORMATS = ("table", "csv", "json")


def add_format(parser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default, for reading), csv or json (whole cells, ISO dates, rows only)",
    )


def cell(value, width: int | None = None, decimals: int = 3) -> str:
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.{decimals}f}"
    elif isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M")
    else:
        text = " ".join(str(value).split())
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def table(headers: list[str], rows: list, max_width: int = 90) -> str:
    # percentages read best with one decimal, scores and rates with three
    decimals = [1 if h.endswith("_pct") or h.endswith("%") else 3 for h in headers]
    cells = [[cell(v, max_width, d) for v, d in zip(row, decimals, strict=True)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        )

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(s.rstrip() for s in out)


def _plain(value):
    """A cell as JSON has it: dates and times in ISO 8601, exact decimals as numbers."""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def records(headers: list[str], rows: list) -> list[dict]:
    # NaN (a share of nothing, from pandas or numpy) is not JSON: null, as SQL's NULL would be
    return [{h: None if isinstance(v, float) and v != v else v
             for h, v in zip(headers, row, strict=True)} for row in rows]  # fmt: skip


def _split_intervals(headers: list[str], rows: list) -> tuple[list[str], list]:
    """For programs, an interval the table shows as "4.6-69.9" (a `*ci95` column) is two
    numbers, `*ci95_lo` and `*ci95_hi`, not a string to parse."""
    at = [i for i, h in enumerate(headers) if h.endswith("ci95")]
    if not at:
        return headers, rows

    def bounds(v):
        lo, sep, hi = str(v).partition("-") if v not in (None, "") else ("", "", "")
        return (float(lo), float(hi)) if sep else (None, None)

    out_headers = [x for i, h in enumerate(headers)
                   for x in ((f"{h}_lo", f"{h}_hi") if i in at else (h,))]  # fmt: skip
    out_rows = [tuple(x for i, v in enumerate(row) for x in (bounds(v) if i in at else (v,)))
                for row in rows]  # fmt: skip
    return out_headers, out_rows


def emit(args, headers: list[str], rows: list, *, notes=(), max_width: int = 90) -> None:
    """Print one table in the format the command was asked for; `notes` are the sentences
    that explain a terminal table, printed above it in table format only."""
    fmt = getattr(args, "format", "table")
    if fmt != "table":
        headers, rows = _split_intervals(headers, rows)
    if fmt == "json":
        print(json.dumps(records(headers, rows), default=_plain, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow(_plain(v) if isinstance(v, dt.date | dt.time) else v for v in row)
    else:
        for note in notes:
            print(note)
        print(table(headers, rows, max_width))


def emit_sections(args, sections: dict, main: str) -> bool:
    """For commands with several tables (and a few scalars): in json one object
    {section: [rows]}, in csv the `main` section only. True when it printed (the caller then
    prints nothing else)."""
    fmt = getattr(args, "format", "table")
    if fmt == "json":
        # a (headers, rows) pair is a table; anything else (an id, a label) is written as is
        out = {n: records(*v) if isinstance(v, tuple) else v for n, v in sections.items()}
        print(json.dumps(out, default=_plain, ensure_ascii=False))
        return True
    if fmt == "csv":
        emit(args, *sections[main])
        return True
    return False
