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
from app.store.opening import scratch_store
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
    search = FaqSearch(base_servable, scratch_store(), "faq")  # nothing indexed yet
    batcher = MicroBatcher(search, max_batch=4, max_wait_ms=0, queue_size=8)
    try:
        with pytest.raises(CollectionMissing):
            asyncio.run(batcher.ask(Question("is there a free tier?", top_k=1)))
        index_dataset(load_faq(MINI_FAQ), search, progress=False)
        answer = asyncio.run(batcher.ask(Question("is there a free tier?", top_k=1)))
        assert answer.answers[0].question == "is there a free tier?"
    finally:
        batcher.close()


def test_shutdown_answers_every_queued_question_and_refuses_new_ones(base_search):
    from app.serving.batcher import ShuttingDown

    async def scenario():
        batcher = MicroBatcher(base_search, max_batch=2, max_wait_ms=0, queue_size=64)
        tasks = [asyncio.ensure_future(batcher.ask(Question(q, top_k=1))) for q in QUESTIONS]
        await asyncio.sleep(0)  # every ask has queued its question
        await asyncio.to_thread(batcher.close, 60)  # the stop marker lands behind them
        late = await asyncio.gather(batcher.ask(Question("is there a free tier?")), return_exceptions=True)
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30), late

    answers, late = asyncio.run(scenario())
    assert all(not isinstance(a, BaseException) for a in answers)
    assert [a.answers[0].question for a in answers[:6]] == QUESTIONS[:6]
    assert isinstance(late[0], ShuttingDown)


def test_one_batch_mixing_options_gives_each_its_own_answer(base_search):
    mixed = [
        Question("how do i create a storage bucket?", top_k=1),
        Question("how do i create a storage bucket?", top_k=4, source="nimbus"),
        Question("how do i create a storage bucket?", score_threshold=1.01),
        Question("is there a free tier?", top_k=2, score_threshold=-1.0),
    ]

    async def gather(batcher: MicroBatcher) -> list:
        return await asyncio.gather(*(batcher.ask(q) for q in mixed))

    metrics = Metrics()
    batcher = MicroBatcher(base_search, max_batch=8, max_wait_ms=200, queue_size=8, metrics=metrics)
    try:
        together = asyncio.run(gather(batcher))
    finally:
        batcher.close()
    batches = metrics.batch_size.collect()[0]
    assert next(s.value for s in batches.samples if s.name.endswith("_count")) < len(mixed)
    for question, answer in zip(mixed, together, strict=True):
        alone = base_search.ask_many([question])[0]
        assert answer.status == alone.status
        assert [h.id for h in answer.answers] == [h.id for h in alone.answers]
        assert [h.id for h in answer.suggestions] == [h.id for h in alone.suggestions]
    assert len(together[0].answers) <= 1 and together[2].status != "answered"
    assert {h.source for h in together[1].answers + together[1].suggestions} == {"nimbus"}
    assert len(together[3].answers) == 2
