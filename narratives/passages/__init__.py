"""Pure text functions: splitting a document into passages (`split`) and identifying each
passage's language (`langid`). No tables, no I/O; the ingest store calls them."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = ()
