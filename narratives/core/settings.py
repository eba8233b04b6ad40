"""Every setting in one declared table, built once at the entry point and passed down.

Declared and validated with pydantic-settings: a wrong type or an unknown name fails with the
field named. Plain construction (`Settings(home=...)`) reads nothing from the environment;
`Settings.from_env` (called by the CLI and the dashboard, the edges) reads `NARRATIVES_<NAME>`
variables, and `NARRATIVES_<GROUP>__<NAME>` for the grouped parameters (clustering, alerts).
Library code takes a `Settings` and never looks at os.environ.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

ENV_PREFIX = "NARRATIVES_"
NESTED = "__"


class SettingsError(ValueError):
    """A setting with a wrong value or an unknown name, said in one line that names the fix."""

    @classmethod
    def from_validation(cls, exc: ValidationError) -> SettingsError:
        problems = []
        for e in exc.errors():
            name = ".".join(str(x) for x in e["loc"])
            env = ENV_PREFIX + NESTED.join(str(x) for x in e["loc"]).upper()
            got = f" (got {e['input']!r})" if e["type"] != "extra_forbidden" else ""
            problems.append(f"setting {name} (environment variable {env}): {e['msg']}{got}")
        return cls("; ".join(problems))


def default_set_path() -> Path:
    return Path(str(resources.files("narratives") / "sets" / "crocus-2024.yaml"))


def default_corpus_path() -> Path:
    """The demo corpus, shipped with the package (narratives/demo/corpus.jsonl, a link to
    data/demo/corpus.jsonl in a checkout): found from any working directory."""
    return Path(str(resources.files("narratives") / "demo" / "corpus.jsonl"))


# the settings that name files or folders: the CLI resolves them against its working directory
# (Settings.resolved), and a flow run refuses relative ones (flows/params.py)
PATH_FIELDS = ("home", "db_path", "corpus", "narrative_set", "sources", "models_dir")


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClusteringSettings(_Group):
    """Discovery: consensus spherical k-means over stored vectors (docs/discovery.md)."""

    min_size: PositiveInt = 5  # fewer passages than this: dropped as tiny
    min_coherence: float = 0.15  # mean cosine to centroid in centred space below this: dropped
    k_min: PositiveInt | None = None  # default: sqrt(n / 2)
    k_max: PositiveInt | None = None  # default: 2 sqrt(n)
    k_step: PositiveInt = 2
    seed: int = 3
    niter: PositiveInt = 30
    nredo: PositiveInt = 5  # k-means restarts per run; faiss keeps the lowest objective
    seeds_per_k: PositiveInt = 1  # runs per k for the silhouette choice (above max_consensus)
    # consensus: k-means is run `consensus_runs` times for every k of the range (one restart
    # each, seeds derived from `seed`); two passages belong together when they share a cluster
    # in at least `consensus_min` of all runs (average linkage over the co-association matrix).
    consensus_runs: PositiveInt = 4
    consensus_min: float = Field(0.5, gt=0, le=1)
    max_consensus: PositiveInt = 8000  # the co-association matrix is n x n: above, silhouette k
    centring: Literal["language", "all"] = "language"  # each language's mean removed, or one
    silhouette_sample: PositiveInt = 5000
    representatives: PositiveInt = 3  # passages nearest the centroid, per language
    terms: PositiveInt = 8  # key terms per language
    # `matches` when at least this share of members is confirmed for the nearest narrative:
    # centroid cosines are inflated by averaging and do not separate known from new alone
    match_confirmed_share: float = Field(0.4, ge=0, le=1)


class AlertSettings(_Group):
    """Alerts: a day whose share rose well above its trailing baseline (docs/discovery.md)."""

    baseline_days: PositiveInt = 7  # trailing window the day is compared with
    min_baseline_documents: PositiveInt = 5  # fewer documents in that window: no alert
    min_matched: PositiveInt = 3  # an alert needs at least this many documents that day
    min_ratio: PositiveFloat = 2.0  # and a share at least this many times the baseline
    alpha: float = Field(0.01, gt=0, lt=1)  # and a one-sided binomial p-value below this

    @property
    def test(self) -> str:
        return (
            f"binomial-upper p<{self.alpha} vs trailing {self.baseline_days}d share "
            f"(add-half), ratio>={self.min_ratio}, n>={self.min_matched}"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED, frozen=True, extra="forbid"
    )

    # where things live
    home: Path = Path("var")  # working state: the database, indexes, exports, snapshots
    db_path: Path | None = None  # default: <home>/narratives.duckdb
    corpus: Path = Field(default_factory=default_corpus_path)  # the demo corpus (package data)
    narrative_set: Path = Field(default_factory=default_set_path)
    sources: Path | None = None  # a sources file (docs/ingest.md); when set, ingest reads it
    # embedding
    model: str = "e5-small"  # a registered backend name, or sentence-transformers:<name-or-path>
    batch_size: PositiveInt = 32
    # where models built at first use are kept (default ~/.cache/narrative-tracker/models,
    # shared by every checkout, test session and `make demo`)
    models_dir: Path | None = None
    # scale-out (narratives.core.parallel, docs/scale.md): the embed and match steps cut their
    # work into partitions of this many passage texts, run in this process, on a LocalCluster of
    # `workers` processes (2 or more), or on the Dask scheduler at `dask_address`
    partition_size: PositiveInt = 256
    workers: int = Field(0, ge=0)
    dask_address: str | None = None
    # passages: sentences packed up to this many words (about one sentence: docs/matching.md)
    max_passage_words: PositiveInt = 30
    # matching: a registered scorer (narratives.matching.base.SCORERS) and its parameters
    scorer: str = "exemplar-head"
    top_k_matches: PositiveInt = 3  # narratives stored per passage, with scores and evidence
    # cosine scorers (max-exemplar, lang-balanced, relative, knn-vote) decide with the set's
    # per-narrative thresholds; "suggested" within this margin below one
    suggest_margin: float = Field(0.03, ge=0)
    # exemplar-head: a probability; confirmed at head_threshold, suggested within the band
    # below it; C of its logistic regressions, chosen on VoxCheck and SemEval dev
    # (docs/matching.md), not on the demo
    head_threshold: float = Field(0.5, gt=0, lt=1)
    head_suggest_band: float = Field(0.2, ge=0, lt=1)
    head_c: PositiveFloat = 10.0
    knn_k: PositiveInt = 5  # knn-vote: neighbours that vote (3/5/8 measured on VoxCheck)
    # event scope (narratives.matching.scope): a passage is about the set's event at this
    # probability of its event head (or when it names a key term)
    scope_threshold: float = Field(0.5, gt=0, lt=1)
    # stance (narratives.matching.stance): C of the stance head's logistic regression (10:
    # measured on EUvsDisinfo dev with grouped cross-validation, docs/trust.md)
    stance_c: PositiveFloat = 10.0
    # passages either side (same document, same best narrative) averaged into a passage's stance
    # context. 2: EUvsDisinfo dev CV recall 0.888, leakage 0.072 before calibration (0.864 / 0.120
    # at 0); on the demo, with the counter check, refuting/reporting documents counted 1 of 66 (9
    # at 0) and the narratives' shares nearer the gold shares (10.3 points off in all, 14.5 at 0),
    # macro-F1 0.788 (0.779 at 0): docs/trust.md
    stance_context: int = Field(2, ge=0, le=10)
    # a passage the stance head finds asserting is counted as refuting a narrative when it lies
    # nearer that narrative's counter-exemplars than its exemplars (stance.CounterCheck; demo at
    # context 0: refuting/reporting documents counted 18 -> 7 of 66; caveats in docs/trust.md)
    stance_counter_check: bool = True
    # with enough analysts' stance verdicts (20 asserting, 20 refuting), move the `asserts`
    # decision to the point where missed claims and counted refutations are equally frequent,
    # measured by cross-validation grouped by document (stance.StanceHead.calibrate; EUvsDisinfo
    # dev CV recall 0.888 -> 0.922, leakage 0.072 -> 0.098: docs/trust.md)
    stance_calibration: bool = True
    relative_offset: float = 0.85  # relative: keeps its scores in the range of cosines
    # discovery and alerts
    clustering: ClusteringSettings = ClusteringSettings()
    alerts: AlertSettings = AlertSettings()
    # scheduling (narratives serve)
    schedule_cron: str = "0 * * * *"
    # behaviour
    progress: bool = True
    lock_wait_s: float = Field(60.0, ge=0)
    # dashboards read published snapshots (narratives.prevalence.snapshots); how many to keep:
    # 2 = the current one and the one brought up to date next (docs/operations.md, "Snapshots")
    snapshot_keep: PositiveInt = 2

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        # plain construction reads only its arguments; from_env adds the environment
        return (init_settings,)

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value and "://" not in value:
            raise ValueError(f"{value!r} is not a scheduler address; give it as tcp://HOST:PORT")
        return value or None

    @property
    def database(self) -> Path:
        return self.db_path or self.home / "narratives.duckdb"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def drafts_dir(self) -> Path:
        return self.home / "drafts"  # draft narratives saved from the dashboard's search

    @property
    def labels_dir(self) -> Path:
        return self.home / "labels"  # the label journal (narratives.labels.inbox)

    @property
    def eval_database(self) -> Path:
        return self.home / "eval.duckdb"  # evaluations' runs and embedding cache

    def replace(self, **changes) -> Settings:
        """A copy with the given fields changed (None leaves a field as it is), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return type(self).from_dict(self.model_dump() | changes)

    def resolved(self, base: Path | None = None) -> Settings:
        """A copy whose paths are absolute: relative ones taken against `base` (default: the
        working directory), `~` expanded. The CLI does this at its edge, so that what it hands a
        flow, a deployment or a child process does not depend on where that one runs."""
        base = Path.cwd() if base is None else base
        changes = {}
        for name in PATH_FIELDS:
            value = getattr(self, name)
            if value is not None:
                value = value.expanduser()
                changes[name] = Path(os.path.abspath(base / value))
        return self.replace(**changes)

    def to_dict(self) -> dict:
        """Plain JSON types (a Prefect flow parameter must serialise)."""
        return self.model_dump(mode="json")

    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SettingsError.from_validation(exc) from None

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Settings:
        """Defaults, then NARRATIVES_<NAME> variables, then explicit overrides (CLI flags)."""
        source = EnvSettingsSource(
            cls, env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED, case_sensitive=False
        )
        if env is not None:
            source.env_vars = {k.lower(): v for k, v in env.items()}
        values = source()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def to_env(self) -> dict[str, str]:
        """The settings as NARRATIVES_* variables, for a child process (the dashboard)."""
        out = {}
        for name, value in self.to_dict().items():
            if isinstance(value, dict):
                out |= {
                    f"{ENV_PREFIX}{name.upper()}{NESTED}{k.upper()}": str(v)
                    for k, v in value.items()
                    if v is not None
                }
            elif value is not None:
                out[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return out


def environment() -> dict[str, str]:
    """The NARRATIVES_* variables of this process (for messages; Settings.from_env reads them)."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
