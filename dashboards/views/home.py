"""Overview: the dashboard's front page at `/`, one line and a link per page."""

import streamlit as st

from dashboards import common
from dashboards.pages import PAGES

snap, opts = common.page("Narrative tracker")
st.caption(
    "What the tracker found in the coverage of the live narrative set's event, read from the "
    "snapshot named in the sidebar. Each page has its own address: this site's /prevalence, "
    "/search and so on."
)
for script, title, _path, what in PAGES:
    st.page_link(script, label=f"{title}: {what}")
