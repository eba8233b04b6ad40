"""The prevalence charts: each period drawn over the days it spans, with its 95% band.

A week (Monday-based, as `date_trunc('week')`) is a segment from its Monday to the next, its
point at the middle, so the week holding an event sits on the event's line, not left of it; the
event's line is drawn at the middle of its day. A period with fewer than `MIN_N` documents about
the event is a hollow grey point without band or line: one document makes a share of 0% or
100%, which says nothing about the narrative.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd

# documents about the event in a period and language below which its share is not drawn as a
# reading: a stated floor, not tuned (at n = 5 the Wilson interval of any share is > 40 points)
MIN_N = 5


def frame(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """The rows with each period's span (start, middle, end) and whether its sample is small."""
    out = df.copy()
    if out.empty:
        return out
    length = pd.Timedelta(days=7 if by == "week" else 1)
    out["start"] = pd.to_datetime(out["period"])
    out["end"] = out["start"] + length
    out["middle"] = out["start"] + length / 2
    out["small"] = out["all_documents"] < MIN_N
    return out


def event_marker(event: dt.date) -> alt.LayerChart:
    at = pd.Timestamp(event) + pd.Timedelta(hours=12)  # the middle of the event's day
    marker = pd.DataFrame({"event": [at], "label": [f"event {event}"]})
    rule = alt.Chart(marker).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(x="event:T")
    text = alt.Chart(marker).mark_text(align="left", dx=4, dy=-6, color="firebrick")
    return rule + text.encode(x="event:T", y=alt.value(0), text="label:N")


def panel(data: pd.DataFrame, by: str, share: bool, color: str, title: str | None,
          dash: str | None = None, height: int = 180) -> alt.LayerChart:  # fmt: skip
    """One chart: a band and a segment per period, points at the middles joined by a line."""
    y_field = "value" if share else "documents"
    axis = alt.Axis(format=".0%") if share else alt.Axis()
    y = alt.Y(f"{y_field}:Q", title="share of documents" if share else "documents", axis=axis)
    x_axis = alt.Axis(format="%b %d", labelOverlap=True)
    tooltip = [
        alt.Tooltip("narrative:N"), alt.Tooltip("lang:N", title="language"),
        alt.Tooltip("period:T", title=f"{by} from"), alt.Tooltip("documents:Q"),
        alt.Tooltip("all_documents:Q", title="documents about the event"),
        alt.Tooltip("value:Q", title="share drawn", format=".1%"),
        alt.Tooltip("lo:Q", title="95% from", format=".1%"),
        alt.Tooltip("hi:Q", title="95% to", format=".1%"),
        alt.Tooltip("drawn:N", title="drawn"), alt.Tooltip("small:N", title=f"n < {MIN_N}"),
    ]  # fmt: skip
    col = alt.Color(f"{color}:N", title="language" if color == "lang" else color)
    detail = {"detail": alt.Detail(f"{dash}:N")} if dash else {}
    base = alt.Chart(data, title=title)
    ok = base.transform_filter("!datum.small") if share else base
    layers = []
    if share:  # the 95% band over the days each period spans
        layers.append(ok.properties(name="band").mark_rect(opacity=0.18).encode(
            x=alt.X("start:T", title=by, axis=x_axis), x2="end:T", y=alt.Y("lo:Q", axis=axis),
            y2="hi:Q", color=col, tooltip=tooltip, **detail))  # fmt: skip
    layers.append(ok.mark_rule(strokeWidth=2).encode(
        x=alt.X("start:T", title=by, axis=x_axis), x2="end:T", y=y, color=col, **detail))  # fmt: skip
    line = ok.mark_line(strokeWidth=1, opacity=0.7).encode(
        x=alt.X("middle:T", title=by, axis=x_axis), y=y, color=col, **detail)  # fmt: skip
    if dash:
        line = line.encode(strokeDash=alt.StrokeDash(f"{dash}:N", title="language"))
    layers.append(line)
    layers.append(ok.mark_point(filled=True, size=30).encode(
        x="middle:T", y=y, color=col, tooltip=tooltip))  # fmt: skip
    if share:  # small samples: shown, but hollow and grey, so nobody reads them as a share
        layers.append(base.transform_filter("datum.small").properties(name="small").mark_point(
            filled=False, color="grey", size=40).encode(
            x="middle:T", y=y, tooltip=tooltip))  # fmt: skip
    return alt.layer(*layers).properties(width=720, height=height)


def small_multiples(plot: pd.DataFrame, picked: list, labels: dict, by: str, share: bool,
                    split: bool, together: bool, event: dt.date | None):  # fmt: skip
    """One chart per narrative (colour: language), or all in one (colour: narrative)."""
    marker = event_marker(event) if event is not None else None

    def with_marker(c):
        return c + marker if marker is not None else c

    if together:
        return with_marker(panel(plot, by, share, "narrative", None,
                                 dash="lang" if split else None, height=320))  # fmt: skip
    charts = [
        with_marker(panel(plot[plot["narrative"] == n], by, share, "lang", f"{n}: {labels[n]}"))
        for n in picked
    ]
    return alt.vconcat(*charts).resolve_scale(color="shared")
