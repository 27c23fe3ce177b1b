"""The ONNX export of a trained servable: written by `faq train`, equal to PyTorch's embeddings,
chosen by FAQ_RUNTIME, with PyTorch as the fallback."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.config import ModelSettings
from app.domain.records import load_faq
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.store.opening import scratch_store
from app.writes.index_job import index_dataset
from tests.conftest import MINI_FAQ, MINI_PARAPHRASES

# Exports the servable to ONNX and compares runtimes (twenty seconds): `make test-slow`.
pytestmark = pytest.mark.slow

TEXTS = [e.question for e in load_faq(MINI_FAQ).entries] + [e.answer for e in load_faq(MINI_FAQ).entries]


def test_training_exports_checked_onnx_encoders(trained_servable):
    report = json.loads((trained_servable / "onnx" / "export.json").read_text())
    assert set(report) == {"answer", "question"}  # the default search has a base question side
    assert all(side["max_abs_difference"] < 1e-4 for side in report.values())
    assert not any("int8" in side for side in report.values()), "int8 only when asked for"


@pytest.fixture(scope="module")
def with_int8(trained_servable, tmp_path_factory) -> Path:
    """A copy of the trained servable with its int8 export (`faq export-onnx --int8`)."""
    from typer.testing import CliRunner

    from cli.main import app

    copy = tmp_path_factory.mktemp("int8") / "servable"
    shutil.copytree(trained_servable, copy)
    result = CliRunner().invoke(app, ["export-onnx", "--servable", str(copy), "--int8"])
    assert result.exit_code == 0 and "answer.int8.onnx (int8, cosine to PyTorch at least" in result.output
    report = json.loads((copy / "onnx" / "export.json").read_text())
    assert all(side["int8"]["min_cosine"] >= 0.98 for side in report.values())
    return copy


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_onnx_embeddings_equal_pytorch_ones_and_int8_stays_close(with_int8):
    fp32 = Servable.load(with_int8, device="cpu", runtime="auto")  # the default: fp32
    int8 = Servable.load(with_int8, device="cpu", runtime="onnx-int8")
    torch_ = Servable.load(with_int8, device="cpu", runtime="torch")
    assert (fp32.runtime, int8.runtime, torch_.runtime) == ("onnx", "onnx-int8", "torch")
    assert np.abs(fp32.encode(TEXTS) - torch_.encode(TEXTS)).max() < 1e-4
    assert np.abs(fp32.encode_question_side(TEXTS) - torch_.encode_question_side(TEXTS)).max() < 1e-4
    for side in ("encode", "encode_question_side"):
        cosines = np.sum(unit(getattr(int8, side)(TEXTS)) * unit(getattr(torch_, side)(TEXTS)), axis=1)
        assert cosines.min() > 0.97, side


def test_both_runtimes_answer_alike(with_int8):
    questions = [
        json.loads(line)["query"] for line in MINI_PARAPHRASES.read_text().splitlines() if line.strip()
    ] + [entry.question for entry in load_faq(MINI_FAQ).entries]
    rankings = []
    for runtime in ("onnx-int8", "onnx", "torch"):
        search = FaqSearch(Servable.load(with_int8, device="cpu", runtime=runtime), scratch_store(), "faq")
        index_dataset(load_faq(MINI_FAQ), search, progress=False)
        rankings.append([[hit.id for hit in search.search(q, top_k=3)] for q in questions])
    assert rankings[1] == rankings[2], "fp32 ONNX ranks exactly as PyTorch"
    top = [ranking[0] for ranking in rankings[0]], [ranking[0] for ranking in rankings[2]]
    # int8 moves scores a little (see onnx_runtime): top entries mostly stay
    assert np.mean([a == b for a, b in zip(*top, strict=True)]) >= 0.9, "int8 keeps the top entries"


def test_without_an_export_pytorch_serves(trained_servable, tmp_path, caplog):
    copy = tmp_path / "servable"
    shutil.copytree(trained_servable, copy)
    shutil.rmtree(copy / "onnx")
    with caplog.at_level(logging.WARNING):
        servable = Servable.load(copy, device="cpu", runtime="onnx")
    assert servable.runtime == "torch" and "no ONNX export" in caplog.text
    assert servable.encode(["is there a free tier?"]).shape == (1, servable.embedding_size)


def test_the_runtime_setting_is_checked():
    assert ModelSettings(FAQ_RUNTIME="torch").runtime == "torch"
    with pytest.raises(ValueError, match="FAQ_RUNTIME must be one of auto, onnx-int8, onnx, torch"):
        ModelSettings(FAQ_RUNTIME="tensorrt")
