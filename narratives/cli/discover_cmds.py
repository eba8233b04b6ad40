"""Commands for what is new and how it spreads: discover, clusters, promote, alerts, leadlag,
amplifiers."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from narratives.cli.output import table


def register(sub, add_common) -> None:
    p = sub.add_parser("discover", help="cluster stored passages (FAISS k-means) and raise alerts")
    add_common(p)
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
    p.add_argument("--narrative", help="only this narrative (or cluster id)")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("leadlag", help="which language carried a narrative first, and by how much")
    add_common(p)
    p.add_argument("narrative")
    p.add_argument("--max-lag", type=int, default=7, help="largest lag tried, in days")
    p.set_defaults(func=cmd_leadlag)

    p = sub.add_parser("amplifiers", help="outlets ranked as originators or amplifiers")
    add_common(p)
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
    print(f"run {run['id']}: {run['status']}")
    print(table(["what", "value"], sorted(run["counts"].items())))
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
        print(f"clustering {clustering_id} ({args.scope})")
        headers = ["id", "status", "passages", "docs", "en", "ru", "uk", "coherence", "nearest",
                   "similarity", "confirmed", "first", "last", "terms"]  # fmt: skip
        print(table(headers, rows, max_width=60))
        return 0
    status = "emerging" if d["status"] == "emerging" else f"matches {d['nearest_narrative']}"
    print(f"cluster {d['id']}: {status}  ({d['size']} passages, {d['documents']} documents, "
          f"{d['first_day']}..{d['last_day']}, nearest {d['nearest_narrative']} "
          f"{d['nearest_similarity']:.3f}, {d['confirmed_share']:.0%} confirmed for it)")  # fmt: skip
    print("\nkey terms:")
    print(table(["lang", "terms"], d["terms"], max_width=110))
    print("\nnearest the centroid:")
    print(
        table(
            ["lang", "rank", "sim", "outlet", "date", "passage"], d["representatives"], max_width=90
        )
    )
    print("\nsize per language and outlet:")
    print(table(["lang", "outlet", "kind", "passages", "docs"], d["sizes"]))
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
    print(table(["kind", "subject", "day", "lang", "docs", "of", "share", "baseline", "p", "test"],
                [r[:8] + (f"{r[8]:.1e}", r[9]) for r in rows], max_width=90))  # fmt: skip
    if not rows:
        print("no alerts; `narratives discover` looks for them")
    return 0


def cmd_leadlag(args, settings) -> int:
    from narratives.analytics.leadlag import lead_lag
    from narratives.core.store import reader

    with reader(settings.database) as con:
        r = lead_lag(con, args.narrative, args.max_lag)
    print(f"{r['narrative']}: first appearance per language and outlet kind")
    print(table(["lang", "outlet kind", "first", "outlet", "docs"], r["first"]))
    order = sorted(r["first_by_lang"].items(), key=lambda kv: kv[1][0])
    print("\nfirst: " + " -> ".join(f"{lang} ({at:%Y-%m-%d})" for lang, (at, _) in order))
    print(f"\nlag maximising the cross-correlation of daily shares ({r['days']} days):")
    print(table(["leader", "follower", "lag_days", "correlation"],
                [(p["leader"], p["follower"], p["lag_days"], p["correlation"]) for p in r["pairs"]]))  # fmt: skip
    return 0


def cmd_amplifiers(args, settings) -> int:
    from narratives.analytics.amplification import amplifiers
    from narratives.core.store import reader

    with reader(settings.database) as con:
        rows = amplifiers(con, args.narrative)
    keys = ["outlet", "kind", "role", "originated", "amplified", "reach", "score", "median_delay_h"]
    print(table(keys, [tuple(r[k] for k in keys) for r in rows]))
    if not rows:
        print("no reprint or forward edges" + (f" for {args.narrative}" if args.narrative else ""))
    return 0
