"""The micro-batcher answers concurrent questions together, exactly as one by one, and refuses
at once when its queue is full."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.records import load_faq
from app.search.faq_search import FaqSearch, Question
from app.serving.batcher import MicroBatcher, Overloaded
from app.serving.metrics import Metrics
from app.store.base import CollectionMissing
from app.store.client_engine import FaqStore
from app.writes.index_job import index_dataset
from tests.conftest import MINI_FAQ

QUESTIONS = [
    "how do i create a storage bucket?",
    "is there a free tier?",
    "how are database backups made?",
    "can i make a bucket publicly readable?",
    "which database engines are offered?",
    "how do i start a virtual machine?",
] * 3


def ask_all_at_once(search, metrics: Metrics, **batching) -> list:
    """Every question of QUESTIONS at the same moment through a new batcher; answers or errors."""

    async def gather(batcher: MicroBatcher) -> list:
        asks = (batcher.ask(Question(q, top_k=3)) for q in QUESTIONS)
        return await asyncio.gather(*asks, return_exceptions=True)

    batcher = MicroBatcher(search, metrics=metrics, **batching)
    try:
        return asyncio.run(gather(batcher))
    finally:
        batcher.close()


def test_concurrent_questions_share_batches_and_get_their_own_answers(base_search):
    metrics = Metrics()
    answers = ask_all_at_once(base_search, metrics, max_batch=32, max_wait_ms=20, queue_size=64)
    for question, answer in zip(QUESTIONS, answers, strict=True):
        alone = base_search.ask(question, top_k=3)
        assert [h.id for h in answer.answers] == [h.id for h in alone.answers]
        assert [round(h.score, 5) for h in answer.answers] == [round(h.score, 5) for h in alone.answers]
    batches = metrics.batch_size.collect()[0]
    count = next(s.value for s in batches.samples if s.name.endswith("_count"))
    assert count < len(QUESTIONS)  # fewer forwards than questions


def test_a_full_queue_refuses_at_once(base_search):
    metrics = Metrics()
    results = ask_all_at_once(base_search, metrics, max_batch=1, max_wait_ms=0, queue_size=1)
    refused = [r for r in results if isinstance(r, Overloaded)]
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert refused and answered and len(refused) + len(answered) == len(QUESTIONS)
    assert metrics.overloaded._value.get() == len(refused)


def test_a_failing_batch_fails_its_requests_and_the_worker_lives_on(base_servable):
    search = FaqSearch(base_servable, FaqStore.in_memory(), "faq")  # nothing indexed yet
    batcher = MicroBatcher(search, max_batch=4, max_wait_ms=0, queue_size=8)
    try:
        with pytest.raises(CollectionMissing):
            asyncio.run(batcher.ask(Question("is there a free tier?", top_k=1)))
        index_dataset(load_faq(MINI_FAQ), search, progress=False)
        answer = asyncio.run(batcher.ask(Question("is there a free tier?", top_k=1)))
        assert answer.answers[0].question == "is there a free tier?"
    finally:
        batcher.close()
