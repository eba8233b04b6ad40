"""Prefect flows over the library: retries, logging and schedules only; the work is in
`narratives.pipeline`."""
