"""The registered scorers: cosine (max-exemplar, lang-balanced, relative), knn-vote and the
exemplar head. Each declares its decision rule; `narratives.matching.base.get_scorer` finds
them by name."""
