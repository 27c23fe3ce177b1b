"""One forward for both sides: a servable trained with its encoder frozen (`faq train --recipe
shared`) serves fused search whose question side is that encoder before the head. Its question
side is the base encoder's embedding, its answer side the trained head's, both from one pass
of the transformer, in ONNX Runtime and in PyTorch alike."""

from __future__ import annotations

import numpy as np
import pytest

from app import timing
from app.encoding.servable import QUESTION_MODEL_DIR, Servable
from tests.conftest import mini_config

TEXTS = [
    "how do i create a storage bucket?",
    "is there a free tier?",
    "a",
    "which database engines are offered?",
]


@pytest.fixture(scope="module")
def shared_servable(tmp_path_factory):
    from training.train import train

    return train(mini_config(tmp_path_factory.mktemp("shared"), "shared", epochs=3, lr=1e-2)).servable


def _both_in_one_stage(servable: Servable, atol: float) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of TEXTS as `encode_both` gives them, timed as one encoding stage (beside the
    tokenizing), each equal to that side encoded alone."""
    with timing.recording() as stages:
        answer_side, question_side = servable.encode_both(TEXTS)
    assert set(stages) - {timing.TOKENIZE} == {timing.ENCODE_BOTH}, stages
    np.testing.assert_allclose(answer_side, servable.encode(TEXTS), atol=atol)
    np.testing.assert_allclose(question_side, servable.encode_question_side(TEXTS), atol=atol)
    return answer_side, question_side


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_both_sides_come_from_one_forward(shared_servable, base_servable, runtime):
    servable = Servable.load(shared_servable, device="cpu", runtime=runtime)
    assert servable.runtime == runtime
    assert servable.question_from_encoder and not servable.has_question_model
    assert not (shared_servable / QUESTION_MODEL_DIR).exists(), "no second model saved"
    answer_side, question_side = _both_in_one_stage(servable, atol=1e-4)
    # the question side is the (frozen) base encoder's embedding; the answer side, the head's
    np.testing.assert_allclose(question_side, base_servable.encode(TEXTS), atol=1e-4)
    assert np.abs(answer_side - question_side).max() > 1e-3, "the head was trained"
    empty = servable.encode_both([])
    assert empty[0].shape == empty[1].shape == (0, servable.embedding_size)


def test_the_search_asks_with_one_forward_a_question(shared_servable):
    from app.domain.records import load_faq
    from app.search.faq_search import FaqSearch, Question
    from app.store.opening import scratch_store
    from app.writes.index_job import index_dataset
    from tests.conftest import MINI_FAQ

    servable = Servable.load(shared_servable, device="cpu", runtime="onnx")
    search = FaqSearch(servable, scratch_store(), "faq")
    assert search.settings.mode == "fused" and search.settings.question_encoder == "encoder"
    index_dataset(load_faq(MINI_FAQ), search, progress=False)
    with timing.recording() as stages:
        (answers,) = search.ask_many([Question("how do i create a storage bucket?")])
    assert answers.answers[0].question == "how do i create a storage bucket?"
    encodes = {name for name in stages if name.startswith("encode")}
    assert encodes == {timing.ENCODE_BOTH}, stages
    assert {timing.STORE_ANSWER, timing.STORE_QUESTION, timing.DECIDE} <= set(stages)


def test_two_models_share_one_tokenizing_and_a_frozen_trunk_one_pass(trained_servable, tmp_path):
    """A fine-tuned servable with the base model for its question side: both ONNX sessions fed
    one tokenizing; trained with --frozen-layers, both sides over the shared bottom layers in
    one pass (PyTorch, and the `both.onnx` export), equal to each side's own encoding."""
    from training.train import train

    plain = Servable.load(trained_servable, device="cpu", runtime="onnx")
    assert plain.has_question_model and plain.trunk_layers == 0
    # One tokenizing, both sessions run side by side (recorded as one stage).
    _both_in_one_stage(plain, atol=1e-5)

    frozen = train(mini_config(tmp_path, frozen_layers=4, epochs=2, encoder_lr=1e-3)).servable
    for runtime in ("torch", "onnx"):
        servable = Servable.load(frozen, device="cpu", runtime=runtime)
        assert servable.trunk_layers == 4
        assert ("both" in servable.onnx) == (runtime == "onnx")
        answer_side, question_side = _both_in_one_stage(servable, atol=1e-4)
        assert np.abs(answer_side - question_side).max() > 1e-3, "the top layers were trained"
