"""What every stage stands on: settings (one declared table, built at the edge), run records (one
context manager), the DuckDB store (connections, the single writer, migrations applied by name),
the tracked languages and JSONL reading. Owns the `runs` and `_migrations` tables. Imports no
stage, and nothing of Prefect or Streamlit."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = ("runs", "_migrations", "schema_migrations", "tables_guide")
