"""Deciding which narratives a passage carries: narrative sets (`sets`, `taxonomy`), the
exemplar bank (`bank`), the scorers registered by name (`base`, `scorers/`), the event scope
and the stance of a passage (`scope`, `stance`, fitted per set by `judges`), calibration and
centring, the match step (`step`) and its read queries (`queries`: list, show, agreement).
Owns `narrative_sets`, `narratives`, `exemplars`, `matches` (with each match's stance),
`matchings`, `passage_scope`, and the views `document_scope` (is a document about the event),
`live_matches` (the live matches with their passage facts, scope and stance; `carries` is what
prevalence counts) and `event_coverage_daily` (`_all`: the event's own coverage)."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = (
    "narrative_sets",
    "narratives",
    "exemplars",
    "matches",
    "matchings",
    "live_matches",
    "passage_scope",
    "document_scope",
    "event_coverage_daily",
    "event_coverage_daily_all",
)
