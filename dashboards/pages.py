"""The dashboard's pages: script, title, URL path and what each shows (app.py builds the
navigation from them, the overview page lists them)."""

# (script, title, url path, what it shows): the overview lists them with these lines
PAGES = [
    ("views/prevalence.py", "Prevalence", "prevalence",
     "each narrative's share of the event's coverage over time, per language, with 95% bands"),
    ("views/competing.py", "Competing explanations", "competing",
     "each narrative's share of voice among the set's narratives, per language or outlet kind"),
    ("views/contested.py", "Contested", "contested",
     "who asserts, refutes or only reports each narrative"),
    ("views/evidence.py", "Evidence", "evidence", "the passages behind the numbers, exportable"),
    ("views/search.py", "Search", "search", "free text in any language, ranked by similarity"),
    ("views/outlets.py", "Outlets", "outlets", "which outlet carries which narrative"),
    ("views/discovery.py", "Discovery", "discovery",
     "emerging clusters of passages no narrative covers yet; promote one to a draft"),
    ("views/alerts.py", "Alerts", "alerts", "days a narrative or cluster rose above its baseline"),
    ("views/spread.py", "Spread", "spread",
     "which language carried a narrative first; originators, amplifiers and reprint chains"),
    ("views/provenance.py", "Provenance", "provenance", "which run, model and set version"),
    ("views/review.py", "Review", "review", "label items so prevalence can be corrected"),
]  # fmt: skip
