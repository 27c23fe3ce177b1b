import numpy as np
import pytest
from qdrant_client import models

from app.core.data import FaqEntry
from app.core.store import ANSWER_VECTOR, QUESTION_VECTOR, FaqStore, SearchSettings, fuse


def point(pid: int, score: float) -> models.ScoredPoint:
    return models.ScoredPoint(id=pid, version=0, score=score, payload={"answer": f"a{pid}"})


BY_ANSWER = [point(1, 0.9), point(2, 0.5)]
BY_QUESTION = [point(2, 0.95), point(3, 0.6)]


def test_max_fusion_takes_the_better_side():
    hits = fuse(BY_ANSWER, BY_QUESTION, SearchSettings(mode="fused", method="max"))
    assert [h.id for h in hits] == ["2", "1", "3"]
    assert hits[0].score == pytest.approx(0.95)


def test_sum_fusion_weights_both_sides_with_floors_for_missing():
    hits = fuse(BY_ANSWER, BY_QUESTION, SearchSettings(mode="fused", method="sum", question_weight=0.5))
    scores = {h.id: h.score for h in hits}
    assert scores["2"] == pytest.approx(0.5 * 0.95 + 0.5 * 0.5)
    assert scores["1"] == pytest.approx(0.5 * 0.6 + 0.5 * 0.9)  # question side floored at 0.6
    assert scores["3"] == pytest.approx(0.5 * 0.6 + 0.5 * 0.5)


def test_rrf_uses_ranks_only():
    hits = fuse(BY_ANSWER, BY_QUESTION, SearchSettings(mode="fused", method="rrf"))
    assert hits[0].id == "2"  # ranked on both sides
    assert hits[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_settings_validate():
    with pytest.raises(ValueError, match="unknown fusion method"):
        SearchSettings(mode="fused", method="avg")
    with pytest.raises(ValueError, match="unknown search mode"):
        SearchSettings(mode="both")
    assert SearchSettings().vectors == (ANSWER_VECTOR,)
    assert SearchSettings(mode="fused").vectors == (ANSWER_VECTOR, QUESTION_VECTOR)


def test_fused_search_finds_an_entry_by_its_question():
    store = FaqStore.in_memory()
    entries = [FaqEntry("q0", "a0"), FaqEntry("q1", "a1")]
    # entry 1's answer vector is far from the query, its question vector is the query itself
    answers = np.array([[1.0, 0.2, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    questions = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    name = store.create_version("faq", 3, (ANSWER_VECTOR, QUESTION_VECTOR))
    store.upsert(name, entries, {ANSWER_VECTOR: answers, QUESTION_VECTOR: questions})
    store.point_alias_to("faq", name)
    query = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    assert store.search("faq", query, limit=1)[0].answer == "a0"
    fused = store.search("faq", query, limit=1, fusion=SearchSettings(mode="fused"))
    assert fused[0].answer == "a1" and fused[0].score == pytest.approx(1.0)
    thresholded = store.search(
        "faq", query, limit=2, score_threshold=0.99, fusion=SearchSettings(mode="fused")
    )
    assert [h.answer for h in thresholded] == ["a1"]


def test_fused_search_on_an_answers_only_collection_falls_back():
    store = FaqStore.in_memory()
    name = store.create_version("faq", 2, (ANSWER_VECTOR,))
    store.upsert(name, [FaqEntry("q", "a")], {ANSWER_VECTOR: np.array([[1.0, 0.0]], dtype=np.float32)})
    store.point_alias_to("faq", name)
    hits = store.search("faq", np.array([1.0, 0.0], dtype=np.float32), fusion=SearchSettings(mode="fused"))
    assert [h.answer for h in hits] == ["a"]
