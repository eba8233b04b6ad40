"""Dashboards over the DuckDB store (Streamlit)."""
