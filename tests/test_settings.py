"""The one settings table: defaults, environment, CLI overrides, validation, and the parameters
a run records (every stage's, from Settings, not module constants)."""

from __future__ import annotations

import pytest

from narratives import pipeline
from narratives.cli import main
from narratives.core.settings import ClusteringSettings, Settings, SettingsError


def test_environment_then_overrides_with_nested_groups():
    env = {"NARRATIVES_HOME": "/tmp/h", "NARRATIVES_HEAD_THRESHOLD": "0.6",
           "NARRATIVES_CLUSTERING__MIN_SIZE": "7", "NARRATIVES_PROGRESS": "false"}  # fmt: skip
    s = Settings.from_env(env, model="sentence-transformers:x")
    assert (str(s.home), s.head_threshold, s.clustering.min_size, s.progress, s.model) == (
        "/tmp/h", 0.6, 7, False, "sentence-transformers:x")  # fmt: skip
    assert s.clustering.consensus_runs == ClusteringSettings().consensus_runs  # others default
    assert Settings.from_dict(s.to_dict()) == s  # what a Prefect flow parameter carries
    assert Settings.from_env(s.to_env()) == s  # what the dashboard process is handed
    assert Settings().model == "e5-small"  # plain construction reads no environment


@pytest.mark.parametrize(
    "env, named",
    [({"NARRATIVES_BATCH_SIZE": "x"}, "batch_size"),
     ({"NARRATIVES_HEAD_THRESHOLD": "1.5"}, "head_threshold"),
     ({"NARRATIVES_CLUSTERING__MIN_SIZE": "0"}, "clustering.min_size"),
     ({"NARRATIVES_ALERTS__NOPE": "1"}, "alerts.nope")],
)  # fmt: skip
def test_a_bad_setting_is_one_line_naming_the_variable(env, named, monkeypatch, capsys, tmp_path):
    with pytest.raises(SettingsError, match=rf"setting {named} \(environment variable"):
        Settings.from_env(env)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["--home", str(tmp_path), "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: setting {named}") and "\n" not in err


def test_a_run_records_the_scorer_parameters_from_settings(mini_settings):
    s = mini_settings.replace(head_c=3.0, head_threshold=0.7)
    params = pipeline.parameters(s)
    assert (params["head_c"], params["head_threshold"]) == (3.0, 0.7)
    knn = pipeline.parameters(s.replace(scorer="knn-vote", knn_k=8))
    assert knn["knn_k"] == 8 and "head_c" not in knn
