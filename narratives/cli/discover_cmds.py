"""Commands for what is new and how it spreads: discover, clusters, promote, alerts, leadlag,
amplifiers."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from narratives.cli.output import add_format, emit, emit_sections


def register(sub, add_common) -> None:
    p = sub.add_parser("discover", help="cluster stored passages (FAISS k-means) and raise alerts")
    add_common(p)
    add_format(p)
    p.add_argument(
        "--start", type=dt.date.fromisoformat, help="first day of the window (YYYY-MM-DD)"
    )
    p.add_argument("--end", type=dt.date.fromisoformat, help="last day of the window")
    p.add_argument("--scope", choices=["all", "residual", "both"], default="both",
                   help="all passages, the residual no seeded narrative claims, or both (default)")  # fmt: skip
    p.add_argument("--narratives", type=Path, dest="narrative_set", default=argparse.SUPPRESS,
                   help="narrative set YAML the run record names (default: crocus-2024)")  # fmt: skip
    p.add_argument("--no-prefect", action="store_true", help="run in-process, without Prefect")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("clusters", help="the clusters of the latest discovery, or one in detail")
    add_common(p)
    add_format(p)
    p.add_argument("id", nargs="?", type=int, help="a cluster id: its passages, terms and sizes")
    p.add_argument("--scope", choices=["all", "residual"], default="all")
    p.set_defaults(func=cmd_clusters)

    p = sub.add_parser("promote", help="turn a cluster into a draft narrative in a set file")
    add_common(p)
    p.add_argument("cluster_id", type=int)
    p.add_argument("--id", dest="new_id", required=True, help="the new narrative's id (a slug)")
    p.add_argument("--set", dest="set_path", type=Path,
                   help="narrative set YAML to add it to (default: the configured set)")  # fmt: skip
    p.add_argument("--out", type=Path, help="write the grown set here instead of over --set")
    p.add_argument("--label", help="the narrative's label (default: from the cluster's terms)")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("alerts", help="days a narrative or cluster rose well above its baseline")
    add_common(p)
    add_format(p)
    p.add_argument("--narrative", help="only this narrative (or cluster id)")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("leadlag", help="which language carried a narrative first, and by how much")
    add_common(p)
    add_format(p)
    p.add_argument("narrative")
    p.add_argument("--max-lag", type=int, default=7, help="largest lag tried, in days")
    p.set_defaults(func=cmd_leadlag)

    p = sub.add_parser("amplifiers", help="outlets ranked as originators or amplifiers")
    add_common(p)
    add_format(p)
    p.add_argument("--narrative", help="only edges whose source carries this narrative")
    p.set_defaults(func=cmd_amplifiers)


def cmd_discover(args, settings) -> int:
    scopes = ["all", "residual"] if args.scope == "both" else [args.scope]
    window = {"start": args.start, "end": args.end}
    from narratives.cli.checks import check_database, check_set

    check_set(settings)  # permanent errors fail here, before Prefect starts
    check_database(settings.database)
    if args.no_prefect:
        from narratives.cli.pipeline_cmds import RETRY_DELAYS_S
        from narratives.core.runs import retry_transient
        from narratives.pipeline import run_discover

        run = retry_transient(lambda: run_discover(settings, scopes=tuple(scopes), **window),
                              RETRY_DELAYS_S, "discovery")  # fmt: skip
    else:
        from flows.server import prefect_api

        with prefect_api():
            from flows.discover import discover_flow

            run = discover_flow(
                settings.to_dict(), *(str(v) if v else None for v in window.values()), scopes
            )
    note = f"run {run['id']}: {run['status']}"
    emit(args, ["what", "value"], sorted(run["counts"].items()), notes=[note])
    if args.format == "table":
        print("`narratives clusters` lists the clusters, `narratives alerts` the alerts")
    return 0 if run["status"] == "ok" else 1


def cmd_clusters(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.discovery.queries import cluster_detail, list_clusters

    with reader(settings.database) as con:
        if args.id is None:
            clustering_id, rows = list_clusters(con, scope=args.scope)
        else:
            d = cluster_detail(con, args.id)
    if args.id is None:
        headers = ["id", "status", "passages", "docs", "en", "ru", "uk", "coherence", "nearest",
                   "similarity", "confirmed", "first", "last", "terms"]  # fmt: skip
        emit(args, headers, rows, notes=[f"clustering {clustering_id} ({args.scope})"],
             max_width=60)  # fmt: skip
        return 0
    terms = (["lang", "terms"], d["terms"])
    nearest = (["lang", "rank", "sim", "outlet", "date", "passage"], d["representatives"])
    sizes = (["lang", "outlet", "kind", "passages", "docs"], d["sizes"])
    about = {k: v for k, v in d.items() if k not in ("terms", "representatives", "sizes")}
    sections = {**about, "terms": terms, "representatives": nearest, "sizes": sizes}
    if emit_sections(args, sections, "representatives"):
        return 0
    status = "emerging" if d["status"] == "emerging" else f"matches {d['nearest_narrative']}"
    print(f"cluster {d['id']}: {status}  ({d['size']} passages, {d['documents']} documents, "
          f"{d['first_day']}..{d['last_day']}, nearest {d['nearest_narrative']} "
          f"{d['nearest_similarity']:.3f}, {d['confirmed_share']:.0%} confirmed for it)")  # fmt: skip
    print("\nkey terms:")
    emit(args, *terms, max_width=110)
    print("\nnearest the centroid:")
    emit(args, *nearest, max_width=90)
    print("\nsize per language and outlet:")
    emit(args, *sizes)
    return 0


def cmd_promote(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.discovery.promote import promote

    with reader(settings.database) as con:
        path, draft = promote(con, args.cluster_id, args.new_id, args.set_path or settings.narrative_set,
                              args.out, args.label)  # fmt: skip
    langs = ", ".join(f"{lang}: {len(t)}" for lang, t in draft.exemplars.items())
    print(f"added {draft.id} (threshold {draft.threshold}, exemplars {langs}) to {path}")
    print(
        f"review it, then `narratives run --narratives {path}` tracks it over every stored "
        "passage without embedding them again"
    )
    return 0


def cmd_alerts(args, settings) -> int:
    from narratives.analytics.queries import list_alerts
    from narratives.core.store import reader

    with reader(settings.database) as con:
        rows = list_alerts(con, args.narrative)
    headers = ["kind", "subject", "day", "lang", "docs", "of", "share", "baseline", "p", "test"]
    if args.format != "table":  # the p-value whole, not in the terminal's 1.2e-05
        emit(args, headers, rows)
        return 0
    emit(args, headers, [r[:8] + (f"{r[8]:.1e}", r[9]) for r in rows])
    if not rows:
        print("no alerts; `narratives discover` looks for them")
    return 0


def cmd_leadlag(args, settings) -> int:
    from narratives.analytics.leadlag import lead_lag
    from narratives.core.store import reader

    with reader(settings.database) as con:
        r = lead_lag(con, args.narrative, args.max_lag)
    first = (["lang", "outlet_kind", "first", "outlet", "docs"], r["first"])
    keys = ["leader", "follower", "lag_days", "correlation", "p_value", "reading"]
    pairs = (keys, [tuple(p[k] for k in keys) for p in r["pairs"]])
    sections = {"narrative": r["narrative"], "days": r["days"], "max_lag": r["max_lag"],
                "first": first, "pairs": pairs}  # fmt: skip
    if emit_sections(args, sections, "pairs"):
        return 0
    print(f"{r['narrative']}: first confirmed document per language and outlet kind")
    emit(args, *first)
    print(f"\nper pair of languages: the lag (days) maximising the cross-correlation of daily "
          f"shares over {r['days']} days (up to {r['max_lag']}), its permutation p-value, and how it reads beside the "
          "first documents (a lead is claimed only at p < 0.05)")  # fmt: skip
    emit(args, *pairs, max_width=120)
    return 0


def cmd_amplifiers(args, settings) -> int:
    from narratives.analytics.amplification import amplifiers
    from narratives.core.store import reader

    with reader(settings.database) as con:
        rows = amplifiers(con, args.narrative)
    keys = ["outlet", "kind", "role", "originated", "amplified", "reach", "score", "median_delay_h"]
    emit(args, keys, [tuple(r[k] for k in keys) for r in rows])
    if not rows and args.format == "table":
        print("no reprint or forward edges" + (f" for {args.narrative}" if args.narrative else ""))
    return 0
