"""Finding what the seeded narratives miss: consensus spherical k-means over stored vectors
(`kmeans`), key terms (`terms`), the cluster step (`step`), reading clusters (`queries`) and
promoting one into a set (`promote`). Owns `clusterings`, `clusters`, `cluster_members`,
`cluster_representatives`, `cluster_terms` and the `cluster_sizes` view."""

# the tables and views this stage owns: only its modules write them (tests/test_layout.py)
TABLES: tuple[str, ...] = (
    "clusterings",
    "clusters",
    "cluster_members",
    "cluster_representatives",
    "cluster_terms",
    "cluster_sizes",
)
