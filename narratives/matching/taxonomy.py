"""Narrative sets from an analyst's taxonomy (a codebook): `narratives import`.

The taxonomy is a JSON file (shape in docs/matching.md):

    {"id": "my-set", "title": "...", "description": "...", "threshold": 0.86,
     "narratives": [{"label": "...", "id": "...", "description": "...", "threshold": 0.9,
                     "exemplars": {"en": ["...", ...], "ru": [...]}}, ...]}

Only `title`, `narratives` and each narrative's `label` are required: a missing id is made from
the label, a missing description is the label, a missing threshold is the set's (or 0.86).
Exemplars may also come as a list of {"lang", "text"} objects, and from a separate JSONL file of
{"narrative": <label or id>, "lang", "text"} lines (`--exemplars`). The result is validated by the
same code as a hand-written YAML set.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from narratives.core.jsonl import json_rows
from narratives.matching.sets import DefinitionError, NarrativeSet, parse_set

DEFAULT_THRESHOLD = 0.86


def slug(text: str, fallback: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or fallback


def _read_json(path: Path):
    if not path.exists():
        raise DefinitionError(path, "file", "does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            path, f"line {exc.lineno}", f"is not valid JSON ({exc.msg})"
        ) from None


def _exemplar_lines(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for n, row in json_rows(path, lambda msg: DefinitionError(path, *msg.split(": ", 1))):
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) for k in ("narrative", "lang", "text")
        ):
            raise DefinitionError(path, f"line {n}", "needs string fields narrative, lang, text")
        out.append((row["narrative"], row["lang"], row["text"]))
    return out


def taxonomy_to_set(
    taxonomy: dict, exemplars: list[tuple[str, str, str]] = (), where: str | Path = "<taxonomy>"
) -> NarrativeSet:
    if not isinstance(taxonomy, dict) or not isinstance(taxonomy.get("narratives"), list):
        raise DefinitionError(where, "top level", "must be an object with a `narratives` list")
    default = taxonomy.get("threshold", DEFAULT_THRESHOLD)
    items, by_name = [], {}
    for i, n in enumerate(taxonomy["narratives"]):
        if not isinstance(n, dict) or not isinstance(n.get("label"), str):
            raise DefinitionError(where, f"narratives[{i}]", "must be an object with a `label`")
        raw = n.get("exemplars") or {}
        if isinstance(raw, list):  # [{"lang", "text"}]
            grouped: dict[str, list[str]] = {}
            for j, e in enumerate(raw):
                if not isinstance(e, dict) or "lang" not in e or "text" not in e:
                    raise DefinitionError(
                        where, f"narratives[{i}].exemplars[{j}]", "needs lang and text"
                    )
                grouped.setdefault(e["lang"], []).append(e["text"])
            raw = grouped
        item = {
            "id": n.get("id") or slug(n["label"], f"narrative-{i + 1}"),
            "label": n["label"],
            "description": n.get("description") or n["label"],
            "threshold": n.get("threshold", default),
            "exemplars": {lang: list(texts) for lang, texts in raw.items()},
        }
        if n.get("status"):
            item["status"] = n["status"]
        items.append(item)
        by_name[item["id"]] = by_name[n["label"]] = item
    for name, lang, text in exemplars:
        if name not in by_name:
            raise DefinitionError(
                where, "exemplars", f"narrative {name!r} is not in the taxonomy (by label or id)"
            )
        by_name[name]["exemplars"].setdefault(lang, []).append(text)
    data = {
        "id": taxonomy.get("id") or slug(str(taxonomy.get("title", "")), "imported-set"),
        "title": taxonomy.get("title"),
        "narratives": items,
    }
    for key in ("description", "event_date"):
        if taxonomy.get(key):
            data[key] = taxonomy[key]
    return parse_set(data, where)


def import_taxonomy(path: str | Path, exemplars_path: str | Path | None = None) -> NarrativeSet:
    path = Path(path)
    lines = _exemplar_lines(Path(exemplars_path)) if exemplars_path else []
    return taxonomy_to_set(_read_json(path), lines, path)


def with_thresholds(nset: NarrativeSet, thresholds: dict[str, float]) -> NarrativeSet:
    """The same set with the given thresholds (rounded; the set's version changes with them)."""
    data = nset.to_dict()
    for item in data["narratives"]:
        if item["id"] in thresholds:
            item["threshold"] = round(min(max(float(thresholds[item["id"]]), 0.01), 1.0), 4)
    return parse_set(data, nset.path or "<set>")
