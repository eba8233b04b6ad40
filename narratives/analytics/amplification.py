"""Originators and amplifiers: outlets ranked by the reprint edges and Telegram forwards that
leave or reach them."""

from __future__ import annotations

import numpy as np


def amplifiers(con, narrative: str | None = None) -> list[dict]:
    """Outlets ranked as originators (others copy or forward them) or amplifiers (they copy or
    forward others), from reprint edges and Telegram forwards. With a narrative, only edges
    whose source document carries it (a reprint's passages are not stored again: the narrative
    is the original's; a forward's is the forwarding post's own)."""
    carries = "SELECT DISTINCT document_id FROM live_matches WHERE carries AND narrative_id = $n"
    edges = con.execute(
        f"""WITH edges AS (
              SELECT o.outlet_id AS source, r2.outlet_id AS copier, r.delay_seconds, 'reprint' AS via,
                     r.original_id AS carrier
              FROM reprints r JOIN documents o ON o.id = r.original_id
              JOIN documents r2 ON r2.id = r.reprint_id
              UNION ALL
              SELECT coalesce(f.origin_outlet_id, f.origin_name), d.outlet_id,
                     epoch(d.published_at) - epoch(f.origin_date), 'forward', f.document_id
              FROM forwards f JOIN documents d ON d.id = f.document_id)
            SELECT source, copier, delay_seconds, via FROM edges
            WHERE source IS NOT NULL AND copier IS NOT NULL AND source <> copier
              AND ($n IS NULL OR carrier IN ({carries}))""",
        {"n": narrative},
    ).fetchall()
    names = dict(con.execute("SELECT id, name FROM outlets").fetchall())
    kinds = dict(con.execute("SELECT id, kind FROM outlets").fetchall())
    stats: dict[str, dict] = {}

    def entry(outlet):
        return stats.setdefault(outlet, {"outlet_id": outlet, "outlet": names.get(outlet, outlet),
                                         "kind": kinds.get(outlet), "originated": 0, "amplified": 0,
                                         "copied_by": set(), "delays": []})  # fmt: skip

    for source, copier, delay, _via in edges:
        entry(source)["originated"] += 1
        entry(source)["copied_by"].add(copier)
        entry(copier)["amplified"] += 1
        if delay is not None:
            entry(copier)["delays"].append(delay)
    out = []
    for s in stats.values():
        total = s["originated"] + s["amplified"]
        score = (s["originated"] - s["amplified"]) / total  # +1 pure originator, -1 pure amplifier
        out.append({
            "outlet": s["outlet"], "outlet_id": s["outlet_id"], "kind": s["kind"],
            "role": "originator" if score > 0 else "amplifier" if score < 0 else "both",
            "originated": s["originated"], "amplified": s["amplified"],
            "reach": len(s["copied_by"]), "score": score,
            "median_delay_h": float(np.median(s["delays"])) / 3600 if s["delays"] else None,
        })  # fmt: skip
    out.sort(key=lambda r: (-r["score"], -r["originated"], -r["amplified"], r["outlet"]))
    return out
