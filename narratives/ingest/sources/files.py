"""Documents from files (JSONL, CSV, Parquet) and Hugging Face datasets, with a column mapping.

`columns` maps document fields to the file's column names (`text = "body"`); unmapped fields use
their own names. JSONL is read line by line, so one malformed line is one error and the rest of
the file still goes in; CSV and Parquet are read through `datasets` (column types, large files
without loading them whole into Python), as is a Hub dataset named by `name` (which needs a hub
connection: HF_DATASETS_OFFLINE is set by default, and a local dataset folder also works).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from narratives.ingest.model import IngestProblem, RawDocument
from narratives.ingest.sources.corpus import document_from_row, jsonl_rows
from narratives.ingest.sources_file import MAPPABLE, Source


def read_files(
    source: Source, state=None, cache_dir: Path | None = None
) -> Iterator[RawDocument | IngestProblem]:
    if source.kind == "files":
        path = Path(source.path)
        if not path.exists():
            yield IngestProblem(str(path), f"no file at {path}", retry=True)
            return
        if source.format == "jsonl":
            rows = jsonl_rows(path)
        else:
            rows = _dataset_rows(source, cache_dir, path)
    else:
        rows = _dataset_rows(source, cache_dir)
    seen = state.seen if state is not None else set()
    for where, row in rows:
        if isinstance(row, IngestProblem):
            yield row
            continue
        # a line that is JSON but not an object ([1, 2], "text") has no columns to map
        doc = document_from_row(_mapped(row, source) if isinstance(row, dict) else row, where)
        if isinstance(doc, RawDocument):
            if doc.external_id in seen:
                state.skipped += 1
                continue
            doc.outlet_kind = doc.outlet_kind or source.outlet_kind
            doc.lang = doc.lang or source.lang
        yield doc


def _mapped(row: dict, source: Source) -> dict:
    mapped = set(source.columns.values())
    out = {k: v for k, v in row.items() if k not in mapped}  # meta keeps the unmapped columns
    for field in MAPPABLE:
        column = source.columns.get(field)
        if column is not None:
            out[field] = row.get(column)
    if not out.get("outlet"):
        out["outlet"] = source.outlet
    for key, value in list(out.items()):
        if value is not None and not isinstance(value, str | int | float | bool | list | dict):
            out[key] = str(value) if key != "published_at" else value  # keep datetimes as such
    return out


def _dataset_rows(source: Source, cache_dir: Path | None, path: Path | None = None):
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    label = path.name if path else source.name
    try:
        if path is not None:
            ds = datasets.load_dataset(source.format, data_files=str(path), split="train",
                                       cache_dir=str(cache_dir) if cache_dir else None)  # fmt: skip
        else:
            ds = datasets.load_dataset(source.name, source.config, split=source.split,
                                       cache_dir=str(cache_dir) if cache_dir else None)  # fmt: skip
    except Exception as exc:  # datasets raises many kinds; the reason is what the user needs
        reason = " ".join(str(exc).split())[:300]
        yield (
            label,
            IngestProblem(
                label,
                f"cannot read {label} as {source.format or 'a dataset'}: {reason}",
                retry=True,
            ),
        )
        return
    first = 2 if source.format == "csv" else 0  # CSV: line numbers after the header
    for i, row in enumerate(ds):
        yield f"{label}:{i + first}", row
