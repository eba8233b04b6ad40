"""The small database the dashboard tests run against: the mini corpus plus one hostile document
(HTML, a script tag and markdown links in its text, title, outlet and URL) and one document
written in two languages (an English and a Russian paragraph), run through the real pipeline
with the real e5 model, which publishes the snapshot the dashboard reads. The hostile document
also has a German paragraph: a passage whose language is none of the tracked ones ('other'),
which no page may show as a language."""

from __future__ import annotations

from pathlib import Path

from narratives.core.settings import Settings
from narratives.pipeline import run_discover, run_pipeline

DATA = Path(__file__).parent / "data"
APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
HOSTILE_OUTLET = "<b>Hostile</b> [Outlet](https://evil.example/o)"
HOSTILE_SNIPPET = "<script>alert('xss')</script>"
DOCUMENTS = 14  # 12 of the mini corpus, the hostile one, the one in two languages


def build(home: Path, e5, discover: bool = False) -> tuple[Settings, dict]:
    """The settings and the run that published the snapshot. With `discover`, clustering and
    alerts run too, and a second pipeline run (which embeds nothing) publishes them."""
    corpus = home / "corpus.jsonl"
    home.mkdir(parents=True, exist_ok=True)
    corpus.write_text(
        (DATA / "mini-corpus.jsonl").read_text(encoding="utf-8")
        + (DATA / "dashboard-hostile.jsonl").read_text(encoding="utf-8")
        + (DATA / "dashboard-mixed.jsonl").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    settings = Settings(
        home=home / "var",
        corpus=corpus,
        narrative_set=DATA / "mini-set.yaml",
        progress=False,
        lock_wait_s=30,
    )
    run = run_pipeline(settings, e5)
    if discover:
        run_discover(settings)
        run = run_pipeline(settings, e5)
    return settings, run


def env(settings: Settings) -> dict[str, str]:
    """What `narratives dashboard` hands the Streamlit process."""
    from dashboards.serve import settings_env

    return settings_env(settings)
