"""Shared fixtures: the project's mini FAQ data set and one servable trained on it per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
REPO_ROOT = TESTS_DIR.parent
MINI_FAQ = TESTS_DIR / "data" / "mini_faq.jsonl"
MINI_PARAPHRASES = TESTS_DIR / "data" / "mini_paraphrases.jsonl"
MINI_OUT_OF_DOMAIN = TESTS_DIR / "data" / "mini_out_of_domain.jsonl"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
REAL_FAQ = Path(os.environ.get("FAQ_REAL_DATA", SHARED_DATA / "cloud_faq_dataset.jsonl"))
PARAPHRASES = SHARED_DATA / "paraphrases-dev.jsonl"
OUT_OF_DOMAIN = SHARED_DATA / "out-of-domain-dev.jsonl"

# Services built by the tests (in-process, and `faq serve` started by them, which inherits this)
# encode large writes in their own threads: the write-encoding process would cost seconds to
# start in each one. tests/app/encoding/test_priority.py sets its own niceness and tests it.
os.environ.setdefault("FAQ_WRITE_NICENESS", "0")


@pytest.fixture(scope="session")
def mini_faq() -> Path:
    return MINI_FAQ


def mini_config(root: Path, recipe: str = "finetune", **overrides):
    """A short CPU training run of `recipe` on the mini data set, writing under `root`."""
    from training.config import TrainConfig

    settings = {
        "epochs": 1,
        "batch_size": 8,
        "device": "cpu",
        "cache_dir": root / "cache",
        "encoder": "finetune",  # the mini FAQ is too small for `auto` to train at all
        **overrides,
    }
    return TrainConfig.from_recipe(recipe, data=MINI_FAQ, output=root / "servable", **settings)


@pytest.fixture(scope="session")
def base_servable():
    """The untrained all-MiniLM-L6-v2 behind the servable interface: a small real encoder for
    tests that need real embeddings but not a trained model (loads in about a second)."""
    from app.encoding.servable import Servable

    return Servable.from_base_model(device="cpu")


@pytest.fixture(scope="session")
def trained_servable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Quaterion training run on the mini data set (a few seconds)."""
    from training.train import train

    return train(mini_config(tmp_path_factory.mktemp("servable"), epochs=3, lr=1e-3)).servable


@pytest.fixture(scope="module")
def base_search(base_servable):
    """The base encoder over an in-memory store holding the mini FAQ, searched both ways."""
    from app.domain.records import load_faq
    from app.search.faq_search import FaqSearch
    from app.search.settings import SearchSettings
    from app.store.opening import scratch_store
    from app.writes.index_job import index_dataset

    search = FaqSearch(base_servable, scratch_store(), "faq", SearchSettings(mode="fused", fusion="max"))
    index_dataset(load_faq(MINI_FAQ), search, progress=False)
    return search


def bigger_faq(copies: int) -> bytes:
    """The mini FAQ `copies` times over, each copy a distinct set of entries (slow to index)."""
    import json

    lines = []
    for copy in range(copies):
        for line in MINI_FAQ.read_text().splitlines():
            record = json.loads(line)
            record["question"] = f"{record['question']} ({copy})"
            lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def requires_real_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not REAL_FAQ.is_file(), reason=f"real data set not found at {REAL_FAQ}")
