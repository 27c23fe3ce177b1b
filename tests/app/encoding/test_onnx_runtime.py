"""The ONNX export of a trained servable: written by `faq train`, equal to PyTorch's embeddings,
chosen by FAQ_RUNTIME, with PyTorch as the fallback."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from app.config import ModelSettings
from app.domain.records import load_faq
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.store.client_engine import FaqStore
from app.writes.index_job import index_dataset
from tests.conftest import MINI_FAQ, MINI_PARAPHRASES

TEXTS = [e.question for e in load_faq(MINI_FAQ).entries] + [e.answer for e in load_faq(MINI_FAQ).entries]


def test_training_exports_checked_onnx_encoders(trained_servable):
    report = json.loads((trained_servable / "onnx" / "export.json").read_text())
    assert set(report) == {"answer", "question"}  # the default search has a base question side
    assert all(side["max_abs_difference"] < 1e-4 for side in report.values())


def test_onnx_embeddings_equal_pytorch_ones(trained_servable):
    onnx = Servable.load(trained_servable, device="cpu", runtime="auto")
    torch_ = Servable.load(trained_servable, device="cpu", runtime="torch")
    assert (onnx.runtime, torch_.runtime) == ("onnx", "torch")
    assert np.abs(onnx.encode(TEXTS) - torch_.encode(TEXTS)).max() < 1e-4
    assert np.abs(onnx.encode_question_side(TEXTS) - torch_.encode_question_side(TEXTS)).max() < 1e-4


def test_both_runtimes_answer_alike(trained_servable):
    questions = [
        json.loads(line)["query"] for line in MINI_PARAPHRASES.read_text().splitlines() if line.strip()
    ]
    rankings = []
    for runtime in ("onnx", "torch"):
        search = FaqSearch(
            Servable.load(trained_servable, device="cpu", runtime=runtime), FaqStore.in_memory(), "faq"
        )
        index_dataset(load_faq(MINI_FAQ), search, progress=False)
        rankings.append([[hit.id for hit in search.search(q, top_k=3)] for q in questions])
    assert rankings[0] == rankings[1]


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
    with pytest.raises(ValueError, match="FAQ_RUNTIME must be one of auto, onnx, torch"):
        ModelSettings(FAQ_RUNTIME="tensorrt")
