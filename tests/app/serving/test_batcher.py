"""The micro-batcher answers concurrent questions together, exactly as one by one, whichever
FAQs they are for; refuses at once when a FAQ's queue is full (that FAQ only); shares each
batch among the FAQs waiting; and answers what was queued before it stops."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.records import load_faq
from app.search.faq_search import FaqSearch, Question
from app.serving.batcher import AskWorker, Overloaded, ShuttingDown
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


def batches_of(metrics: Metrics) -> tuple[int, float]:
    """How many batches the worker answered, and how many questions they held."""
    samples = metrics.batch_size.collect()[0].samples
    count = next(s.value for s in samples if s.name.endswith("_count"))
    total = next(s.value for s in samples if s.name.endswith("_sum"))
    return int(count), total


def ask_all_at_once(search, metrics: Metrics, *, queue_size: int, **batching) -> list:
    """Every question of QUESTIONS at the same moment through a new worker; answers or errors."""
    worker = AskWorker(metrics=metrics, **batching)
    queue = worker.queue(search, queue_size)

    async def gather() -> list:
        return await asyncio.gather(
            *(queue.ask(Question(q, top_k=3)) for q in QUESTIONS), return_exceptions=True
        )

    try:
        return asyncio.run(gather())
    finally:
        worker.close()


def test_concurrent_questions_share_batches_and_get_their_own_answers(base_search):
    metrics = Metrics()
    answers = ask_all_at_once(base_search, metrics, max_batch=32, max_wait_ms=20, queue_size=64)
    for question, answer in zip(QUESTIONS, answers, strict=True):
        alone = base_search.ask(question, top_k=3)
        assert [h.id for h in answer.answers] == [h.id for h in alone.answers]
        assert [round(h.score, 5) for h in answer.answers] == [round(h.score, 5) for h in alone.answers]
    count, total = batches_of(metrics)
    assert total == len(QUESTIONS) and count < len(QUESTIONS)  # fewer forwards than questions


def test_a_full_queue_refuses_at_once(base_search):
    metrics = Metrics()
    results = ask_all_at_once(base_search, metrics, max_batch=1, max_wait_ms=0, queue_size=1)
    refused = [r for r in results if isinstance(r, Overloaded)]
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert refused and answered and len(refused) + len(answered) == len(QUESTIONS)
    assert metrics.overloaded._value.get() == len(refused)


def test_a_failing_batch_fails_its_requests_and_the_worker_lives_on(base_servable):
    search = FaqSearch(base_servable, scratch_store(), "faq")  # nothing indexed yet
    worker = AskWorker(max_batch=4, max_wait_ms=0)
    queue = worker.queue(search, 8)
    try:
        with pytest.raises(CollectionMissing):
            asyncio.run(queue.ask(Question("is there a free tier?", top_k=1)))
        index_dataset(load_faq(MINI_FAQ), search, progress=False)
        answer = asyncio.run(queue.ask(Question("is there a free tier?", top_k=1)))
        assert answer.answers[0].question == "is there a free tier?"
    finally:
        worker.close()


def test_shutdown_answers_every_queued_question_and_refuses_new_ones(base_search):
    async def scenario():
        worker = AskWorker(max_batch=2, max_wait_ms=0)
        queue = worker.queue(base_search, 64)
        tasks = [asyncio.ensure_future(queue.ask(Question(q, top_k=1))) for q in QUESTIONS]
        await asyncio.sleep(0)  # every ask has queued its question
        await asyncio.to_thread(worker.close, 60)
        late = await asyncio.gather(queue.ask(Question("is there a free tier?")), return_exceptions=True)
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
    metrics = Metrics()
    worker = AskWorker(max_batch=8, max_wait_ms=200, metrics=metrics)
    queue = worker.queue(base_search, 8)

    async def gather() -> list:
        return await asyncio.gather(*(queue.ask(q) for q in mixed))

    try:
        together = asyncio.run(gather())
    finally:
        worker.close()
    assert batches_of(metrics)[0] < len(mixed)
    for question, answer in zip(mixed, together, strict=True):
        alone = base_search.ask_many([question])[0]
        assert answer.status == alone.status
        assert [h.id for h in answer.answers] == [h.id for h in alone.answers]
        assert [h.id for h in answer.suggestions] == [h.id for h in alone.suggestions]
    assert len(together[0].answers) <= 1 and together[2].status != "answered"
    assert {h.source for h in together[1].answers + together[1].suggestions} == {"nimbus"}
    assert len(together[3].answers) == 2


@pytest.fixture()
def two_faqs(base_servable):
    """Two FAQs of one store, as a service of many FAQs has them: the mini FAQ, and one of two
    entries of another domain, sharing the encoders and their cache."""
    from app.domain.entry import FaqEntry
    from app.domain.records import FaqDataset

    store = scratch_store()
    first = FaqSearch(base_servable, store, "faq")
    index_dataset(load_faq(MINI_FAQ), first, progress=False)
    second = FaqSearch(base_servable, store, "faq--library", first.settings, cache=first.cache)
    library = [
        FaqEntry("how many books can i borrow at once?", "Up to twelve books on one card."),
        FaqEntry("can i renew a loan online?", "Yes, from your account, twice per loan."),
    ]
    index_dataset(FaqDataset(MINI_FAQ, library), second, progress=False)
    yield first, second
    store.close()


def test_questions_of_several_faqs_share_one_forward_and_each_gets_its_faqs_answers(two_faqs):
    first, second = two_faqs
    metrics = Metrics()
    worker = AskWorker(max_batch=32, max_wait_ms=50, metrics=metrics)
    queues = [worker.queue(first, 64, "faq"), worker.queue(second, 64, "library")]
    asked = [(n % 2, q) for n, q in enumerate(QUESTIONS[:6] + ["how many books can i borrow?"] * 2)]

    async def gather() -> list:
        return await asyncio.gather(*(queues[n].ask(Question(q, top_k=2)) for n, q in asked))

    try:
        answers = asyncio.run(gather())
    finally:
        worker.close()
    for (n, question), answer in zip(asked, answers, strict=True):
        alone = (first, second)[n].ask(question, top_k=2)
        assert [h.id for h in answer.answers + answer.suggestions] == [
            h.id for h in alone.answers + alone.suggestions
        ], (n, question)
    count, total = batches_of(metrics)
    assert total == len(asked) and count < len(asked)
    library = {pid for pid, _ in second.store.each_entry("faq--library")}
    found = {
        h.id for (n, _), a in zip(asked, answers, strict=True) if n == 1 for h in a.answers + a.suggestions
    }
    assert found and found <= library, "the library FAQ's questions got library entries only"


def test_a_faq_flooding_its_queue_is_refused_alone_and_does_not_hold_back_another(two_faqs):
    first, second = two_faqs
    worker = AskWorker(max_batch=2, max_wait_ms=0)
    flooded, other = worker.queue(first, 6, "faq"), worker.queue(second, 6, "library")
    done: list[str] = []

    async def ask(queue, question: str, tag: str):
        answer = await queue.ask(Question(question, top_k=1))
        done.append(tag)
        return answer

    async def scenario() -> list:
        flood = [asyncio.ensure_future(ask(flooded, q, "flood")) for q in QUESTIONS[:10]]
        await asyncio.sleep(0)  # the flood is queued (as much of it as fits) first
        lone = asyncio.ensure_future(ask(other, "can i renew a loan online?", "other"))
        return await asyncio.gather(*flood, lone, return_exceptions=True)

    try:
        results = asyncio.run(scenario())
    finally:
        worker.close()
    refused = [r for r in results[:10] if isinstance(r, Overloaded)]
    assert refused, "the flooded FAQ's queue was full"
    assert not isinstance(results[10], BaseException), "the other FAQ was not refused"
    # the other FAQ's question took its share of an early batch, not a place behind the flood
    assert done.index("other") < done.count("flood") - 1
