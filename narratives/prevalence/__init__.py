"""Prevalence: the rollup of the daily views (`rollup`), the one prevalence query every reader
shares (`queries`: CLI, dashboards, documented SQL), the snapshots dashboards read
(`snapshots`) and the aggregate step (`step`). Owns `prevalence_rollup`, `rollup_state` and the
prevalence views (`passage_facts`, `live_matches`, `coverage_daily`, `prevalence_daily`,
`prevalence_weekly` and their `_all` forms across languages)."""
