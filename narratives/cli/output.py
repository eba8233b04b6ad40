"""Plain-text tables for the terminal."""

from __future__ import annotations

import datetime as dt


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
