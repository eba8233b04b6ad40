"""Pure text functions: splitting a document into passages (`split`) and identifying each
passage's language (`langid`). No tables, no I/O; the ingest store calls them."""
