"""Telegram Desktop channel exports (`result.json`).

A message's text is either a string or a list of plain strings and entity objects
(`{"type": "bold", "text": ...}`, links, hashtags...); the text is their concatenation. Service
messages (channel created, pinned...) and posts without text (a photo without a caption) are not
documents. A forwarded post keeps the channel it came from and its views in the `forwards` table:
re-posting is how a narrative travels between channels, so amplification is measured from them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from narratives.ingest.model import Forward, IngestProblem, RawDocument
from narratives.ingest.sources.corpus import parse_datetime
from narratives.ingest.sources.pages import check_text
from narratives.ingest.sources_file import Source

MIN_POST_CHARS = 20  # shorter posts ("Срочно!", an emoji) carry no claim to match


def message_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in value)
    return ""


def _when(message: dict, key: str) -> tuple[dt.datetime | None, str | None]:
    """(UTC time, raw value) of a message's `date` / `edited`: the *_unixtime field is UTC; the
    plain field is the exporting machine's local time, used only when the other is missing."""
    unix = message.get(f"{key}_unixtime")
    if unix not in (None, ""):
        try:
            stamp = dt.datetime.fromtimestamp(int(unix), dt.UTC).replace(tzinfo=None)
        except (TypeError, ValueError, OverflowError, OSError):
            return None, str(unix)
        return parse_datetime(stamp), str(unix)
    raw = message.get(key)
    return (parse_datetime(raw) if raw else None), raw


def read_export(source: Source, state=None) -> Iterator[RawDocument | IngestProblem]:
    path = Path(source.path)
    where = path.name
    if not path.exists():
        yield IngestProblem(str(path), f"no Telegram export at {path}", retry=True)
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        yield IngestProblem(
            where, f"{path} is not UTF-8 text ({exc.reason}); re-export it as JSON", retry=True
        )
        return
    except json.JSONDecodeError as exc:
        yield IngestProblem(where, f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                                   f"column {exc.colno}); is the export complete?", retry=True)  # fmt: skip
        return
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        yield IngestProblem(where, f"{path} has no 'messages' list: not a Telegram Desktop channel "
                                   "export (Export chat history -> JSON)", retry=True)  # fmt: skip
        return
    channel = str(data.get("name") or source.outlet)
    channel_id = str(data.get("id") or source.id)
    seen = state.seen if state is not None else set()
    for message in data["messages"]:
        if not isinstance(message, dict) or message.get("type") != "message":
            continue
        msg_id = message.get("id")
        item = f"{channel_id}/{msg_id}"
        if item in seen:
            state.skipped += 1
            continue
        text = message_text(message.get("text")).strip()
        if len(text) < MIN_POST_CHARS:
            continue  # a media post or a one-word post: nothing to match, and not an error
        problem = check_text(text, f"message {msg_id}")
        if problem:
            yield IngestProblem(item, problem)
            continue
        published, raw = _when(message, "date")
        if published is None:
            reason = "has no date" if raw is None else f"has an impossible date {raw!r}"
            yield IngestProblem(item, f"message {msg_id} {reason}")
            continue
        edited, _ = _when(message, "edited")
        views = message.get("views")
        views = int(views) if isinstance(views, int | str) and str(views).isdigit() else None
        forward = None
        if message.get("forwarded_from"):
            # the export names the origin channel, not its message id or date
            forward = Forward(origin_name=str(message["forwarded_from"]), views=views)
        meta = {"channel": channel, "message_id": msg_id, "views": views,
                "edited_at": edited.isoformat() if edited else None,
                "forwarded_from": message.get("forwarded_from"),
                "forwarded_from_id": message.get("forwarded_from_id")}  # fmt: skip
        yield RawDocument(
            external_id=item,
            text=text,
            outlet=source.outlet,
            outlet_kind=source.outlet_kind or "telegram",
            lang=source.lang,
            published_at=published,
            meta={k: v for k, v in meta.items() if v is not None},
            forward=forward,
        )
