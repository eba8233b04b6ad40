"""The languages the tracker follows, defined once.

Passages in any other language (or too unsure to tell) are labelled `OTHER`; they are stored and
counted in coverage, never dropped.
"""

TRACKED: tuple[str, ...] = ("en", "ru", "uk")
OTHER = "other"
ALL = "all"  # the label of totals across languages (a document counts once)
