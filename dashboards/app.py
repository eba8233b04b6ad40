"""The narrative-tracker dashboard: `narratives dashboard` runs this with `streamlit run`.

Every page reads the snapshot the pipeline published last (narratives.prevalence.snapshots), never the
database a pipeline may be writing. Every page has a URL of its own (`/prevalence`, `/search`...):
Streamlit serves its default page at `/` only, so the default is a short overview linking the
others, and no page is reachable only at `/`.
"""

import sys
from pathlib import Path

# import this checkout's packages, whichever copy of the project is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="narrative-tracker", layout="wide")

from dashboards.pages import PAGES  # noqa: E402

pages = [st.Page(script, title=title, url_path=path) for script, title, path, _ in PAGES]
home = st.Page("views/home.py", title="Overview", url_path="overview", default=True)
st.navigation([home, *pages]).run()
