"""Deciding which narratives a passage carries: narrative sets (`sets`, `taxonomy`), the
exemplar bank (`bank`), the scorers registered by name (`base`, `scorers/`), calibration and
centring, the match step (`step`) and its read queries (`queries`: list, show, agreement).
Owns `narrative_sets`, `narratives`, `exemplars`, `matches` and `matchings`."""
