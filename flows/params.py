"""The flows' parameters, typed: what a run reads and where it keeps its state. Prefect shows
them as a form (a field each) in the UI's "Run" dialog of a deployment, and checks them before
a run starts.

A flow run's settings are these parameters, over the NARRATIVES_* environment of the process
that runs it (a worker, or `narratives serve`), over the defaults (narratives.core.settings). An
empty field means "not given here". Paths must be absolute: a worker runs each flow in a
temporary folder, so a relative path would name a different file on every run; the CLI
resolves the user's paths against its working directory before it hands them over.

A full settings dict (`Settings.to_dict()`, as earlier releases passed) is accepted too: the
settings without a field of their own go into `other`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from embeddings.base import available_backends
from narratives.core.settings import ENV_PREFIX, PATH_FIELDS, Settings, SettingsError
from narratives.matching.base import scorer_names

ScorerName = Literal[tuple(scorer_names())]  # a choice in the UI

Home = Annotated[Path | None, Field(
    title="Home folder",
    description="Working folder: the database, indexes, snapshots. An absolute path. "
    "Empty: NARRATIVES_HOME of the worker.",
)]  # fmt: skip
Database = Annotated[Path | None, Field(
    title="Database file", description="DuckDB file. Empty: narratives.duckdb in the home folder.",
)]  # fmt: skip
NarrativeSet = Annotated[Path | None, Field(
    title="Narrative set", description="Narrative set YAML. Empty: the bundled crocus-2024.",
)]  # fmt: skip
Model = Annotated[str | None, Field(
    title="Embedding model",
    description=f"One of {', '.join(b for b in available_backends() if b != 'sentence-transformers')}"
    ", or sentence-transformers:NAME (a model name or folder). Empty: e5-small.",
)]  # fmt: skip
Other = Annotated[dict[str, Any], Field(
    title="Other settings",
    description='Any other setting by name, e.g. {"head_threshold": 0.6, "alerts": {"alpha": '
    '0.001}} (README, "Settings"). Not given: the NARRATIVES_* variable of the worker, else the default.',
)]  # fmt: skip


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _fold_settings(cls, data: Any) -> Any:
        """A Settings object or a full settings dict: the settings without a field here go into
        `other` (None values, "not set", are dropped)."""
        if isinstance(data, Settings):
            data = data.to_dict()
        if not isinstance(data, dict):
            return data
        own, other = {}, dict(data.get("other") or {})
        for key, value in data.items():
            if key in cls.model_fields:
                own[key] = value
            elif key in Settings.model_fields:
                if value is not None:
                    other[key] = value
            else:
                own[key] = value  # refused below, by name
        if other:
            own["other"] = other
        return own

    @field_validator(
        *(f for f in PATH_FIELDS if f != "models_dir"), mode="after", check_fields=False
    )
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_absolute():
            raise ValueError(
                f"{value} is a relative path; give an absolute one (a flow runs in a folder of "
                "its worker's choosing, so a relative path would name another file)"
            )
        return None if value is None else value.expanduser()

    @field_validator("other", mode="after", check_fields=False)
    @classmethod
    def _known_settings(cls, value: dict) -> dict:
        for key in value:
            if key not in Settings.model_fields:
                raise ValueError(f"no setting {key!r} (the settings are listed in the README)")
            if key in cls.model_fields:
                raise ValueError(f"{key!r} has a field of its own: set it there")
        return value

    @model_validator(mode="after")
    def _valid_settings(self) -> _Parameters:
        Settings.from_dict(self.given())  # a wrong value is refused now, named
        return self

    def given(self) -> dict[str, Any]:
        """The settings these parameters set."""
        own = {k: getattr(self, k) for k in type(self).model_fields if k != "other"}
        return {k: v for k, v in own.items() if v is not None} | dict(self.other)

    def to_settings(self, env: dict[str, str] | None = None) -> Settings:
        """The run's settings: these parameters, over NARRATIVES_* of this process (or `env`),
        over the defaults. No progress bars unless asked for: a flow run's output is a log.
        Raises SettingsError when a path (from the environment) is relative."""
        settings = Settings.from_env(env, **({"progress": False} | self.given()))
        for name in PATH_FIELDS:
            value = getattr(settings, name)
            if value is not None and not value.is_absolute():
                raise SettingsError(
                    f"setting {name} is {value}, a relative path: a flow run needs absolute paths "
                    f"(it runs in a folder of its worker's choosing); set the deployment's "
                    f"`{name}` parameter or {ENV_PREFIX}{name.upper()} of the worker to an "
                    "absolute path"
                )
        return settings

    @classmethod
    def of(cls, settings: Settings, everything: bool = True):
        """The parameters for these settings (absolute paths: Settings.resolved). `everything`:
        every setting, so the run does exactly what the caller's settings say; else only those
        that differ from the defaults (what a deployment shows)."""
        data = settings.to_dict()
        if not everything:
            defaults = Settings().to_dict()
            data = {k: v for k, v in data.items() if k in cls.model_fields or v != defaults[k]}
            data.pop("progress", None)
            data.pop("schedule_cron", None)  # the deployment's schedule says it
        return cls.model_validate(data)


class PipelineSettings(_Parameters):
    """What a pipeline run (ingest, embed, labels, match, aggregate) reads and where it writes."""

    model_config = ConfigDict(title="Pipeline settings")

    home: Home = None
    corpus: Path | None = Field(
        None, title="Corpus file",
        description="JSONL file of documents. Empty: the bundled demo corpus. Not read when a "
        "sources file is given.",
    )  # fmt: skip
    sources: Path | None = Field(
        None, title="Sources file",
        description="TOML file of feeds, pages, exports and datasets (docs/ingest.md). "
        "Empty: the corpus file is ingested.",
    )  # fmt: skip
    narrative_set: NarrativeSet = None
    model: Model = None
    scorer: ScorerName | None = Field(
        None, title="Scorer", description="How a passage is scored. Empty: exemplar-head."
    )
    db_path: Database = None
    workers: int | None = Field(
        None, ge=0, title="Dask workers",
        description="Embed and match on a local Dask cluster of this many processes, started "
        "for the run. Empty or 0: in the flow run's process.",
    )  # fmt: skip
    dask_address: str | None = Field(
        None, title="Dask scheduler",
        description="Embed and match on the workers of this Dask scheduler, tcp://HOST:PORT "
        "(each needs narrative-tracker installed). Empty: see Dask workers.",
    )  # fmt: skip
    other: Other = {}


class DiscoverSettings(_Parameters):
    """What a discovery run (clustering, alerts) reads and where it writes."""

    model_config = ConfigDict(title="Discovery settings")

    home: Home = None
    narrative_set: NarrativeSet = None
    model: Model = None
    db_path: Database = None
    other: Other = {}


# the flows' defaults: every field empty (a run's settings come from the environment, the defaults)
PIPELINE_DEFAULTS = PipelineSettings()
DISCOVER_DEFAULTS = DiscoverSettings()
