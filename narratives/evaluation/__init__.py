"""Measuring matching on labelled documents with the pipeline's own code: labelled files
(`labelled`), metrics and reports (`metrics`), and a recorded evaluation run (`run`). Writes
only its own database (`<home>/eval.duckdb`), never the pipeline's."""
