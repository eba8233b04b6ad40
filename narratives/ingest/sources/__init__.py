"""One module per source kind, each turning its input into `RawDocument`s (and `IngestProblem`s
for bad items): `feeds`, `pages`, `telegram` (exports), `files` (the `files` and `hf-dataset`
kinds) and `corpus` (JSONL records, the demo corpus file)."""
