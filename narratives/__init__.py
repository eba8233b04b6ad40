"""narrative-tracker: track propaganda narratives across English, Russian and Ukrainian coverage."""

__version__ = "0.1.0"
