"""The narrative-tracker dashboard: `narratives dashboard` runs this with `streamlit run`.

Every page reads the snapshot the pipeline published last (narratives.prevalence.snapshots), never the
database a pipeline may be writing.
"""

import sys
from pathlib import Path

# import this checkout's packages, whichever copy of the project is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="narrative-tracker", layout="wide")

PAGES = [
    st.Page("views/prevalence.py", title="Prevalence", url_path="prevalence", default=True),
    st.Page("views/competing.py", title="Competing explanations", url_path="competing"),
    st.Page("views/contested.py", title="Contested", url_path="contested"),
    st.Page("views/evidence.py", title="Evidence", url_path="evidence"),
    st.Page("views/search.py", title="Search", url_path="search"),
    st.Page("views/outlets.py", title="Outlets", url_path="outlets"),
    st.Page("views/provenance.py", title="Provenance", url_path="provenance"),
    st.Page("views/review.py", title="Review", url_path="review"),
]

st.navigation(PAGES).run()
