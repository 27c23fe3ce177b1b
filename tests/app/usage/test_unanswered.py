"""The unanswered-question log: retention limits and grouping, on the real base encoder and
an in-memory Qdrant."""

from __future__ import annotations

import time

import pytest

from app.config import RecordingSettings
from app.search.faq_search import FaqSearch
from app.store.client_engine import FaqStore
from app.usage.unanswered import UnansweredLog


@pytest.fixture
def log(base_servable) -> UnansweredLog:
    search = FaqSearch(base_servable, FaqStore.in_memory(), "faq")
    settings = RecordingSettings(FAQ_UNANSWERED_MAX_RECORDS="5", FAQ_UNANSWERED_MAX_DAYS="30")
    return UnansweredLog(search, settings)


def _questions(log: UnansweredLog) -> list[str]:
    return sorted(payload["question"] for _, payload, _ in log.store.records(log.name))


def test_retention_keeps_the_newest_records_within_count_and_age(log):
    search = log.search
    for number in range(8):
        log.record(f"question number {number}", 0.1, search.embed_question(f"question number {number}"))
    # one record from 40 days ago, written as the log writes them
    vector = search.embed_question("an old question")
    log.store.add_record(
        log.name,
        "00000000-0000-0000-0000-000000000001",
        vector,
        {
            "question": "an old question",
            "best_score": 0.1,
            "asked_at": time.time() - 40 * 86400,
            "asked": "old",
        },
    )
    assert log.prune() == 4  # the old one, then the 3 oldest beyond 5
    assert _questions(log) == [f"question number {n}" for n in range(3, 8)]


def test_groups_put_wordings_of_one_topic_together(log):
    questions = [
        "how do i cancel my subscription?",
        "what is the capital of australia?",
        "i want to cancel my subscription",
        "how can i cancel the subscription",
    ]
    for question in questions:
        log.record(question, 0.2, log.search.embed_question(question))
    groups = log.groups()
    assert [g.count for g in groups] == [3, 1]
    assert "australia" not in " ".join(groups[0].examples)
    assert groups[1].representative == "what is the capital of australia?"
    # every recorded question is in exactly one group
    assert sorted(q for g in log.groups(0.99) for q in g.examples) == sorted(questions)


def test_nothing_is_recorded_when_switched_off(base_servable):
    search = FaqSearch(base_servable, FaqStore.in_memory(), "faq")
    off = UnansweredLog(search, RecordingSettings(FAQ_RECORD_QUESTIONS="false"))
    off.record("anything?", 0.1, search.embed_question("anything?"))
    assert off.groups() == []
