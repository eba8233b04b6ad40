"""Commands that read: prevalence, search, list, show, agreement."""

from __future__ import annotations

from narratives.cli.output import add_format, emit, emit_sections
from narratives.core.langs import OTHER, TRACKED


def register(sub, add_common) -> None:
    p = sub.add_parser(
        "prevalence", help="documents carrying each narrative per day or week, by language"
    )
    add_common(p)
    add_format(p)
    p.add_argument("--by", choices=["day", "week", "total"], default="week")
    p.add_argument("--narrative", help="one narrative id")
    p.add_argument("--lang", choices=TRACKED)
    p.add_argument(
        "--outlet-kind", help="state-media, independent, ukrainian, international, telegram"
    )
    p.add_argument("--of", choices=["event", "all"], default="event",
                   help="share of the documents about the set's event (default), or of all "
                   "documents (attention)")  # fmt: skip
    p.set_defaults(func=cmd_prevalence)

    p = sub.add_parser(
        "contested", help="who asserts, refutes or reports each narrative, per period and language"
    )
    add_common(p)
    add_format(p)
    p.add_argument("--by", choices=["day", "week", "total"], default="week")
    p.add_argument("--narrative", help="one narrative id")
    p.add_argument(
        "--outlet-kind", help="state-media, independent, ukrainian, international, telegram"
    )
    p.set_defaults(func=cmd_contested)

    p = sub.add_parser(
        "coverage", help="the event's own volume over time: documents about it, of all documents"
    )
    add_common(p)
    add_format(p)
    p.add_argument("--by", choices=["day", "week", "total"], default="week")
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser(
        "search", help="cross-lingual search: passages nearest to free text in any language"
    )
    add_common(p)
    add_format(p)
    p.add_argument("query")
    p.add_argument("--lang", choices=[*TRACKED, OTHER], help="only passages in this language")
    p.add_argument(
        "--mixed",
        action="store_true",
        help="one ranking over all languages (default: each language's best in turns)",
    )
    p.add_argument("-k", type=int, default=10, help="how many results (default 10)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("list", help="the tracked narratives with their document counts")
    add_common(p)
    add_format(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show", help="one narrative: definition, exemplars and the strongest evidence"
    )
    add_common(p)
    add_format(p)
    p.add_argument("id")
    p.add_argument("--per-lang", type=int, default=3, help="evidence passages per language")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "sql", help="run one read-only SQL query on the database (recipes: docs/sql.md)"
    )
    add_common(p)
    add_format(p)
    p.add_argument("query", help="the SQL text, or - to read it from stdin")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser(
        "agreement", help="document-level agreement with a corpus's gold labels (P/R/F1)"
    )
    add_common(p)
    add_format(p)
    p.set_defaults(func=cmd_agreement)


def cmd_prevalence(args, settings) -> int:
    from narratives.cli.checks import check_filters
    from narratives.core.store import reader
    from narratives.prevalence.corrected import add_to_table
    from narratives.prevalence.estimates import MIN_AUDIT, MIN_STRATUM
    from narratives.prevalence.queries import Filters, prevalence

    with reader(settings.database) as con:
        check_filters(con, args.narrative, args.outlet_kind)
        headers, rows = prevalence(con, args.by, args.narrative, args.lang, args.outlet_kind,
                                   args.of)  # fmt: skip
        if args.of == "event":
            f = Filters(kinds=(args.outlet_kind,) if args.outlet_kind else (),
                        narratives=(args.narrative,) if args.narrative else ())  # fmt: skip
            headers, rows = add_to_table(con, headers, rows, args.by, f, args.lang)
    of = "about the event" if args.of == "event" else "(all coverage)"
    notes = [
        "documents carrying each narrative (docs: a passage confirmed, in scope, asserting it), "
        f"their share of that period's documents {of} in the language (pct) and its 95% Wilson "
        "interval (ci95, percent); all_*: across languages, a document once"
    ]
    if args.of == "event":
        notes.append(
            "*_corr_pct: that share corrected for the tracker's error measured by the analysts' "
            "audit (`narratives review`), with its 95% interval (corr_ci95, which includes the "
            "uncertainty of the error rates); audit: the audit labels behind it (a corrected "
            f"share needs {MIN_AUDIT}, at least {MIN_STRATUM} counted and {MIN_STRATUM} not)"
        )
    emit(args, headers, rows, notes=notes)
    return 0


def cmd_contested(args, settings) -> int:
    from narratives.cli.checks import check_filters
    from narratives.core.store import reader
    from narratives.prevalence.queries import Filters, contested

    f = Filters(narratives=(args.narrative,) if args.narrative else (),
                kinds=(args.outlet_kind,) if args.outlet_kind else ())  # fmt: skip
    with reader(settings.database) as con:
        check_filters(con, args.narrative, args.outlet_kind)
        rows = contested(con, f, args.by).to_pylist()
    cells: dict[tuple, dict] = {}
    for r in rows:
        key = ("all" if args.by == "total" else r["period"], r["narrative_id"], r["stance"])
        cells.setdefault(key, {})[r["lang"] or "all"] = r["documents"]
    langs = [*TRACKED, "all"]
    note = ("documents with a confirmed, in-scope passage per narrative and stance "
            "(asserts is what prevalence counts; all: across languages, a document once)")  # fmt: skip
    emit(args, ["period", "narrative_id", "stance", *langs],
         [(*k, *(v.get(lang, 0) for lang in langs)) for k, v in cells.items()], notes=[note])  # fmt: skip
    return 0


def cmd_coverage(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.prevalence.queries import coverage

    with reader(settings.database) as con:
        rows = coverage(con, by=args.by).to_pylist()
    note = "documents per period and language, those about the live set's event, and its share"
    emit(args, ["period", "lang", "documents", "event_documents", "event_share"],
         [(r["period"] or "all", *list(r.values())[1:]) for r in rows], notes=[note])  # fmt: skip
    return 0


def cmd_search(args, settings) -> int:
    from narratives.vectors.search import search, search_each_language
    from narratives.vectors.step import load_embedder

    embedder = load_embedder(settings.model, settings.models_dir)
    if args.lang or args.mixed:
        hits = search(
            settings.database, settings.index_dir, embedder, args.query, args.k, args.lang
        )
    else:  # every language's best in turns: the cross-lingual view
        k_each = -(-args.k // len(TRACKED))
        hits = search_each_language(
            settings.database, settings.index_dir, embedder, args.query, k_each
        )[: args.k]
    rows = [(h["score"], h["lang"], h["outlet"], h["day"], h["text"]) for h in hits]
    emit(args, ["score", "lang", "outlet", "date", "passage"], rows, max_width=100)
    return 0


def cmd_list(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.matching.queries import narratives_overview

    with reader(settings.database) as con:
        headers, rows = narratives_overview(con)
    emit(args, headers, rows)
    return 0


def cmd_show(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.matching.queries import narrative_detail

    with reader(settings.database) as con:
        d = narrative_detail(con, args.id, args.per_lang)
    exemplars = (["lang", "text"], d["exemplars"])
    evidence = (["stance", "lang", "score", "margin", "outlet", "date", "passage", "url"],
                d["evidence"])  # fmt: skip
    about = {k: d[k] for k in ("id", "label", "set", "decided_by", "description")}
    if emit_sections(args, {**about, "exemplars": exemplars, "evidence": evidence}, "evidence"):
        return 0
    print(f"{d['id']}: {d['label']}  (set {d['set']})")
    print(f"decided by: {d['decided_by']}", end="")
    if d["scorer"] == "exemplar-head":  # the set's cosine threshold does not apply to it
        print(f"; the set's cosine threshold {d['set_threshold']} applies to cosine scorers only")
    else:
        print()
    print(d["description"])
    print("\nexemplars:")
    emit(args, *exemplars, max_width=110)
    print("\nstrongest evidence (asserting first; `refutes` and `reports` passages do not count):")
    emit(args, *evidence, max_width=80)
    return 0


def cmd_agreement(args, settings) -> int:
    from narratives.core.store import reader
    from narratives.matching.queries import gold_agreement, stance_agreement

    with reader(settings.database) as con:
        *rows, none = gold_agreement(con, none_class=True)
        stance = stance_agreement(con)
    headers = ["narrative", "tp", "fp", "fn", "precision", "recall", "f1"]
    scores = [(a.narrative, a.tp, a.fp, a.fn, a.precision, a.recall, a.f1) for a in rows]
    stance_headers = ["narrative", "gold", "docs", "counted_as_carrying", "same_stance",
                      "not_confirmed"]  # fmt: skip
    macro = sum(a.f1 for a in rows) / len(rows)
    with_none = (sum(a.f1 for a in rows) + none.f1) / (len(rows) + 1)
    sections = {"narratives": (headers, scores), "macro_f1": macro,
                "macro_f1_with_none": with_none, "stance": (stance_headers, stance)}  # fmt: skip
    if emit_sections(args, sections, "narratives"):
        return 0
    emit(args, headers, scores)
    print(
        f"\nmacro-F1 over {len(rows)} narratives: {macro:.3f}; with the class of documents "
        f"carrying none of them (f1 {none.f1:.3f}), as `narratives eval` averages: {with_none:.3f}"
    )
    if stance:
        print("\ndocuments with a gold stance (refuting or only reporting a narrative):")
        emit(args, stance_headers, stance)
    return 0


def cmd_sql(args, settings) -> int:
    """The analyst's way in without a `duckdb` binary: the CLI on PyPI (duckdb-cli 1.5) cannot
    read a file written by the duckdb 2 library this project uses."""
    import sys

    import duckdb

    from narratives.core.store import reader

    query = sys.stdin.read() if args.query == "-" else args.query
    with reader(settings.database) as con:
        try:
            cur = con.execute(query)
            headers = [d[0] for d in cur.description or []]
            rows = cur.fetchall() if headers else []
        except duckdb.Error as exc:  # a typo in the query is the user's to fix: one line, status 2
            raise ValueError(f"SQL: {exc}") from exc
    emit(args, headers, rows, max_width=60)
    return 0
