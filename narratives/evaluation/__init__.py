"""Measuring matching on labelled documents with the pipeline's own code: labelled files
(`labelled`), metrics and reports (`metrics`), and a recorded evaluation run (`run`). Writes
only its own database (`<home>/eval.duckdb`), never the pipeline's."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = ()
