"""Prevalence: the rollup of the daily views (`rollup`), the one prevalence query every reader
shares (`queries`: CLI, dashboards, documented SQL), the snapshots dashboards read
(`snapshots`) and the aggregate step (`step`). Owns `prevalence_rollup`, `rollup_state` and the
views `prevalence_daily`, `prevalence_weekly` (per language) and their `_all` forms (across
languages: a document counts once)."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = (
    "prevalence_daily",
    "prevalence_weekly",
    "prevalence_daily_all",
    "prevalence_weekly_all",
    "prevalence_rollup",
    "rollup_state",
    "stance_daily",
    "prevalence_by_day",  # zero-filled over the calendar (0010)
)
