"""Deciding which narratives a passage carries: narrative sets (`sets`, `taxonomy`), the
exemplar bank (`bank`), the scorers registered by name (`base`, `scorers/`), calibration and
centring, the match step (`step`) and its read queries (`queries`: list, show, agreement).
Owns `narrative_sets`, `narratives`, `exemplars`, `matches`, `matchings` and the view
`live_matches` (the matches of the live set version and model, with their passage facts)."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = (
    "narrative_sets",
    "narratives",
    "exemplars",
    "matches",
    "matchings",
    "live_matches",
)
