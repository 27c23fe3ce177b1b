"""The unanswered-question log: retention limits and grouping, on the real base encoder and
an in-memory Qdrant."""

from __future__ import annotations

import time

import pytest

from app.config import RecordingSettings
from app.search.faq_search import FaqSearch
from app.store.opening import scratch_store
from app.usage.unanswered import UnansweredLog


@pytest.fixture
def log(base_servable) -> UnansweredLog:
    search = FaqSearch(base_servable, scratch_store(), "faq")
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
    groups, total = log.groups()
    assert [g.count for g in groups] == [3, 1] and total == 4
    assert "australia" not in " ".join(groups[0].examples)
    assert groups[1].representative == "what is the capital of australia?"
    # every recorded question is in exactly one group
    assert sorted(q for g in log.groups(0.99)[0] for q in g.examples) == sorted(questions)
    # only the groups asked for are described; the total counts every question
    top, total = log.groups(0.99, limit=1)
    assert len(top) == 1 and total == 4


def test_nothing_is_recorded_when_switched_off(base_servable):
    search = FaqSearch(base_servable, scratch_store(), "faq")
    off = UnansweredLog(search, RecordingSettings(FAQ_RECORD_QUESTIONS="false"))
    off.record("anything?", 0.1, search.embed_question("anything?"))
    assert off.groups() == ([], 0)


def test_grouping_is_the_same_leaderclustering_block_by_block():
    """Blocks change nothing for questions far apart or near-identical: each group is found
    whatever block its members fall in (a block boundary inside a group included)."""
    import numpy as np

    from app.usage.unanswered import CLUSTER_BLOCK, cluster

    rng = np.random.default_rng(0)
    topics = rng.normal(size=(40, 64))
    labels = rng.integers(0, 40, 3 * CLUSTER_BLOCK)
    vectors = topics[labels] + rng.normal(size=(len(labels), 64)) * 0.05
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    members = cluster(vectors.astype(np.float32), 0.9)
    assert sorted(sorted(set(labels[idx].tolist())) for idx in members) == [
        [t] for t in sorted(set(labels.tolist()))
    ]
    assert sorted(i for idx in members for i in idx) == list(range(len(labels)))
    assert len(cluster(vectors.astype(np.float32), 1.01)) == len(labels)  # nothing is that similar
