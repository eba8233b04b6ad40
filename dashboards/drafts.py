""" "Save as narrative": a draft narrative definition built from search results.

The draft is a one-narrative set file with `status: draft` (the matcher skips drafts), written
with `narratives.matching.sets.dump_set` under `<home>/drafts/`, for the analyst to edit and move
into a set. It is validated the same way as any set file before it is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from narratives.matching.sets import DefinitionError, Narrative, NarrativeSet, dump_set, parse_set


def draft_set(
    narrative_id: str,
    label: str,
    query: str,
    passages: list[dict],
    threshold: float = 0.86,
    event_date: dt.date | None = None,
) -> NarrativeSet:
    """The query becomes the description; the chosen passages, by language, the exemplars."""
    exemplars: dict[str, list[str]] = {}
    for p in passages:
        exemplars.setdefault(p["lang"], []).append(p["text"])
    narrative = Narrative(
        id=narrative_id,
        label=label,
        description=query,
        threshold=threshold,
        exemplars={lang: tuple(texts) for lang, texts in sorted(exemplars.items())},
        status="draft",
    )
    nset = NarrativeSet(
        id=f"draft-{narrative_id}",
        title=f"Draft narrative {narrative_id}, saved from search",
        narratives=(narrative,),
        event_date=event_date,
    )
    return parse_set(nset.to_dict(), f"draft-{narrative_id}.yaml")  # same checks as a set file


def save_draft(nset: NarrativeSet, drafts_dir: Path, overwrite: bool = False) -> Path:
    path = Path(drafts_dir) / f"{nset.narratives[0].id}.yaml"
    if path.exists() and not overwrite:
        raise DefinitionError(path, "file", "exists already; choose another id or overwrite it")
    return dump_set(nset, path)
