"""Prefect flows over the stages' step functions, in the order `narratives.pipeline` gives:
retries, logging and schedules only; the work is in the stages."""
