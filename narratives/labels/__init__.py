"""Analysts' labels: the review queue (`queue`: an uncertain stream that teaches the head and a
random audit stream that measures its error), the inbox every label is first written to
(`inbox`: never blocked by a pipeline run), the labels step that stores the inbox in the
`labels` table (`step`), export/import as JSONL (`io`), and the reads other stages use
(`queries`: the head's labelled examples, each narrative's audit sample). Owns `labels` and `label_files`."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = ("labels", "label_files")
