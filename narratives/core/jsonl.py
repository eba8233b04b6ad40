"""Reading JSONL files of objects, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path


def json_rows(path: Path, error: Callable[[str], Exception]) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of a JSONL file; `error(message)` builds
    the exception for a missing file or a line that is not a JSON object."""
    if not path.exists():
        raise error("file: does not exist")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"line {n}: is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise error(f"line {n}: is not a JSON object")
        yield n, row
