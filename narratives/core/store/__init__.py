"""DuckDB storage: connections, the single-writer helper and migrations applied by name.

One writer, many readers: pipeline steps write through `writer()`, which holds the read-write
connection for one step only; everything else reads through `reader()`, a short read-only
connection. DuckDB lets one process write or many read a file, never both at once, so neither
kind of connection is kept open longer than a step or a query. Both first take the lock file
`<db>.lock` (handoff.py): DuckDB's own lock comes too late to keep a waiting process from
opening the database as it was before the last writer's final checkpoint.
"""

from narratives.core.store.db import (
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseMissing,
    DatabaseOutdated,
    DatabaseUnreadable,
    applied_migrations,
    apply_migrations,
    fetch_arrow,
    migrations,
    pending_migrations,
    reader,
    schema_version,
    transaction,
    writer,
)

__all__ = [
    "DatabaseBusy",
    "DatabaseDamaged",
    "DatabaseMissing",
    "DatabaseOutdated",
    "DatabaseUnreadable",
    "applied_migrations",
    "apply_migrations",
    "fetch_arrow",
    "migrations",
    "pending_migrations",
    "reader",
    "schema_version",
    "transaction",
    "writer",
]
