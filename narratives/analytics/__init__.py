"""How narratives move: alerts on sudden rises (`alerts`, with the alerts step in `step`),
lead-lag across languages (`leadlag`) and originators and amplifiers (`amplification`).
Owns the `alerts` table; reads live matches, coverage and clusters."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = ("alerts",)
