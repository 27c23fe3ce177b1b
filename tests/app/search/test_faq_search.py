import json
import logging
from pathlib import Path

import pytest

from app.domain.entry import FaqEntry
from app.domain.records import FaqDataset
from app.search.faq_search import FaqSearch
from app.search.fusion import fuse
from app.search.settings import (
    ANSWER_VECTOR,
    QUESTION_VECTOR,
    WORDINGS_VECTOR,
    SearchSettings,
    page_context,
    question_text,
)
from app.store.base import ScoredPoint
from app.store.opening import scratch_store
from app.writes.index_job import index_dataset

BY_ANSWER = [ScoredPoint("1", 0.9), ScoredPoint("2", 0.5)]
BY_QUESTION = [ScoredPoint("2", 0.95), ScoredPoint("3", 0.6)]


def test_max_fusion_takes_the_better_side():
    ranked = fuse(BY_ANSWER, BY_QUESTION, SearchSettings(mode="fused", fusion="max"))
    assert [pid for pid, _ in ranked] == ["2", "1", "3"]
    assert ranked[0][1] == pytest.approx(0.95)


def test_sum_fusion_weights_both_sides_with_floors_for_missing():
    ranked = fuse(BY_ANSWER, BY_QUESTION, SearchSettings(mode="fused", fusion="sum", question_weight=0.5))
    scores = dict(ranked)
    assert scores["2"] == pytest.approx(0.5 * 0.95 + 0.5 * 0.5)
    assert scores["1"] == pytest.approx(0.5 * 0.6 + 0.5 * 0.9)  # question side floored at 0.6
    assert scores["3"] == pytest.approx(0.5 * 0.6 + 0.5 * 0.5)


def test_rrf_uses_ranks_only():
    ranked = fuse(BY_ANSWER, BY_QUESTION, SearchSettings(mode="fused", fusion="rrf"))
    assert ranked[0][0] == "2"  # ranked on both sides
    assert ranked[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_without_question_results_the_answer_ranking_stands():
    assert fuse(BY_ANSWER, [], SearchSettings(mode="fused")) == [("1", 0.9), ("2", 0.5)]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "both"}, "unknown search mode"),
        ({"fusion": "avg"}, "unknown fusion 'avg'"),
        ({"question_encoder": "large"}, "unknown question encoder"),
        ({"question_weight": 1.5}, "between 0 and 1"),
        ({"candidates": 0}, "at least 1"),
        ({"lexical_weight": -0.1}, "lexical_weight"),
        ({"lexical_tokens": "spaces"}, "unknown lexical tokens 'spaces'"),
        ({"no_answer_threshold": 2.0}, "no_answer_threshold"),
    ],
)
def test_settings_validate(values, message):
    with pytest.raises(ValueError, match=message):
        SearchSettings(**values)


def test_settings_vectors():
    assert SearchSettings().vectors == (ANSWER_VECTOR,)
    assert SearchSettings(mode="fused").vectors == (ANSWER_VECTOR, QUESTION_VECTOR)
    assert SearchSettings(lexical_weight=0.2).sparse_vectors == ("lexical",)


def test_recorded_settings_read_old_names_and_ignore_unknown_keys(caplog):
    with caplog.at_level(logging.WARNING):
        settings = SearchSettings.from_record({"mode": "fused", "method": "sum", "from_the_future": 1})
    assert settings == SearchSettings(mode="fused", fusion="sum")
    assert "from_the_future" in caplog.text


def test_page_context_turns_source_and_filename_into_words():
    entry = FaqEntry("what is the daily backup retention period?", "a", "aws", "fsx-lustre_faqs")
    assert page_context(entry) == "aws fsx lustre"
    assert (
        question_text(entry, with_context=True)
        == "aws fsx lustre: what is the daily backup retention period?"
    )
    assert question_text(entry, with_context=False) == entry.question
    assert page_context(FaqEntry("q", "a", "azure", "azure_azure_backup_overview")) == "azure backup"
    assert question_text(FaqEntry("q", "a"), with_context=True) == "q"  # no page: the plain question


# Answers that do not say what they answer: only the question side can find them.
ENTRIES = [
    FaqEntry("how do i reset my password?", "use the link we email you.", "acme", "account"),
    FaqEntry("what does the premium plan cost?", "forty dollars a month.", "acme", "billing"),
    FaqEntry("can i export my data as csv?", "yes, from the settings page.", "nimbus", "data"),
]


def indexed(servable, settings: SearchSettings) -> FaqSearch:
    search = FaqSearch(servable, scratch_store(), "faq", settings)
    index_dataset(FaqDataset(Path("entries"), ENTRIES), search, progress=False)
    return search


def test_fused_search_finds_entries_by_their_question(base_servable):
    search = indexed(base_servable, SearchSettings(mode="fused", fusion="sum", question_weight=0.7))
    assert search.store.collection_info("faq").vectors == (ANSWER_VECTOR, QUESTION_VECTOR, WORDINGS_VECTOR)
    for entry in ENTRIES:
        hits = search.search(entry.question, top_k=3)
        assert hits[0].id == entry.id and hits[0].question == entry.question
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # the same question asked of the answers alone is harder: scores are lower
    answers_only = FaqSearch(base_servable, search.store, "faq", SearchSettings(mode="answer"))
    assert answers_only.search(ENTRIES[0].question)[0].score < search.search(ENTRIES[0].question)[0].score


def test_source_filter_and_threshold(base_servable):
    search = indexed(base_servable, SearchSettings(mode="fused", fusion="max"))
    hits = search.search("how do i reset my password?", top_k=3, source="nimbus")
    assert [h.source for h in hits] == ["nimbus"]
    exact = search.ask("how do i reset my password?", top_k=3, score_threshold=0.99)
    assert exact.answered and [h.question for h in exact.answers] == ["how do i reset my password?"]
    assert exact.suggestions == [] and exact.threshold == 0.99
    declined = search.ask("how do i reset my password?", score_threshold=1.01)
    assert not declined.answered and declined.answers == []
    # the closest entries come back as suggestions, best first
    assert [h.question for h in declined.suggestions][0] == "how do i reset my password?"
    assert len(declined.suggestions) == 3
    everything = search.ask("how do i reset my password?", top_k=2, score_threshold=-1.0)
    assert everything.answered and len(everything.answers) == 2 and everything.threshold == -1.0


def test_without_a_fitted_rule_the_servable_threshold_applies(base_servable):
    """A collection indexed before decision rules, with a servable that has none: the single
    threshold of the servable's settings decides, as it did then."""
    stored = indexed(base_servable, SearchSettings(mode="fused", fusion="max"))
    stored.store.set_metadata(stored.store.resolve_alias("faq"), {"decision": None})
    strict = FaqSearch(
        base_servable,
        stored.store,
        "faq",
        SearchSettings(mode="fused", fusion="max", no_answer_threshold=0.9),
    )
    assert strict.decision_rule() is None
    far = strict.ask("what is the capital of australia?")
    assert far.status == "clarify" and far.threshold == 0.9 and len(far.suggestions) == 3
    assert strict.ask("how do i reset my password?").answered
    assert strict.ask("what is the capital of australia?", score_threshold=-1.0).answered


def test_lexical_side_is_stored_and_finds_exact_words(base_servable):
    search = indexed(base_servable, SearchSettings(mode="fused", fusion="sum", lexical_weight=0.3))
    assert search.store.collection_info("faq").vectors == ("answer", "lexical", "question", "wordings")
    hits = search.search("csv", top_k=3)
    assert hits[0].question == "can i export my data as csv?"
    # the reported score is the dense one, the same with or without the lexical side
    dense = FaqSearch(base_servable, search.store, "faq", SearchSettings(mode="fused", fusion="sum"))
    by_id = {h.id: h.score for h in dense.search("csv", top_k=3)}
    assert hits[0].score == pytest.approx(by_id[hits[0].id], abs=1e-6)


def test_bm25_lexical_side_stems_words(base_servable):
    """Qdrant's BM25 tokens: words stemmed ("exporting" finds "export"), stopwords dropped."""
    from app.search.lexical import Bm25Encoder

    bm25 = Bm25Encoder()
    assert bm25.query("exporting").indices == bm25.query("export").indices
    assert bm25.query("the of and").indices == []
    search = indexed(
        base_servable, SearchSettings(mode="fused", fusion="sum", lexical_weight=0.3, lexical_tokens="bm25")
    )
    assert search.store.collection_info("faq").vectors == ("answer", "lexical", "question", "wordings")
    assert search.search("exporting csv", top_k=3)[0].question == "can i export my data as csv?"


def test_fused_search_on_an_answers_only_collection_falls_back(base_servable, caplog):
    stored = indexed(base_servable, SearchSettings(mode="answer"))
    fused = FaqSearch(base_servable, stored.store, "faq", SearchSettings(mode="fused"))
    with caplog.at_level(logging.WARNING):
        hits = fused.search("what does the premium plan cost?")
    assert hits and "no question vectors" in caplog.text


def test_vectors_for_encode_the_page_words_on_the_question_side(base_servable):
    entry = ENTRIES[1]
    search = FaqSearch(
        base_servable, scratch_store(), "faq", SearchSettings(mode="fused", question_context=True)
    )
    vectors = search.vectors_for([entry])
    expected = base_servable.encode_question_side([question_text(entry, with_context=True)])
    assert vectors[QUESTION_VECTOR] == pytest.approx(expected, abs=1e-5)
    assert vectors[ANSWER_VECTOR] == pytest.approx(base_servable.encode([entry.answer]), abs=1e-5)


def test_settings_recorded_in_a_servable_are_used(base_servable):
    base_servable.meta.search = json.loads(json.dumps({"mode": "fused", "fusion": "max"}))
    try:
        assert FaqSearch(base_servable, scratch_store(), "faq").settings == SearchSettings(
            mode="fused", fusion="max"
        )
    finally:
        base_servable.meta.search = {}


def test_the_embedding_cache_skips_encoding_and_changes_nothing(base_servable, base_search):
    from app.search.faq_search import FaqSearch

    cached = FaqSearch(
        base_servable, base_search.store, base_search.alias, base_search.settings, cache_size=2
    )
    first = cached.search("How do I create a storage bucket?", top_k=3)
    # the same words, other case and spacing: one key for an uncased model
    again = cached.search("  how do i   create a STORAGE bucket? ", top_k=3)
    assert (cached.cache.hits, cached.cache.misses) == (1, 1)
    assert [(h.id, round(h.score, 6)) for h in again] == [(h.id, round(h.score, 6)) for h in first]
    uncached = base_search.search("how do i create a storage bucket?", top_k=3)
    assert [h.id for h in uncached] == [h.id for h in first]
    # least recently used out first, at most `size` kept
    cached.search("is there a free tier?")
    cached.search("how are database backups made?")
    assert len(cached.cache) == 2
    cached.search("how do i create a storage bucket?")
    assert cached.cache.misses == 4


def test_stored_vectors_are_unit_length_and_scores_are_cosines(base_servable):
    import numpy as np

    entries = [
        FaqEntry("how do i create a bucket?", "open the console and click create bucket"),
        FaqEntry("is there a free tier?", "yes, the first 5 gb are free every month"),
    ]
    search = FaqSearch(base_servable, scratch_store(), "faq", SearchSettings(mode="answer"))
    index_dataset(FaqDataset(Path("entries"), entries), search, progress=False)
    stored = search.vectors_for(entries)
    assert np.allclose(np.linalg.norm(stored[ANSWER_VECTOR], axis=1), 1.0, atol=1e-5)
    question = "where do i make a new bucket?"
    raw_q = base_servable.encode([question])[0]
    raw_a = base_servable.encode([entries[0].answer])[0]
    cosine = float(raw_q @ raw_a / np.linalg.norm(raw_q) / np.linalg.norm(raw_a))
    (hit,) = search.search(question, top_k=1)
    assert hit.answer == entries[0].answer and hit.score == pytest.approx(cosine, abs=1e-5)


def test_an_entry_is_found_by_its_best_wording(base_servable):
    """An alternate wording is searched like the question (max-sim over the wordings): a user
    wording that shares no words with the question finds the entry once it is a wording of it,
    and is then answered confidently, word for word."""
    asked = "i am locked out of my profile, what now"
    plain = indexed(base_servable, SearchSettings(mode="fused", fusion="sum", question_weight=0.5))
    before = plain.search(asked, top_k=3)
    reset = ENTRIES[0]
    worded = FaqSearch(base_servable, scratch_store(), "faq", plain.settings)
    with_wording = [reset.with_alternates([asked, "  forgot my login  "]), *ENTRIES[1:]]
    index_dataset(FaqDataset(Path("entries"), with_wording), worded, progress=False)
    assert worded.store.entries("faq", [reset.id])[reset.id].alternates == (asked, "forgot my login")
    after = worded.search(asked, top_k=3)
    assert after[0].id == reset.id  # the id is the content's: wordings are not content
    before_score = next(h.score for h in before if h.id == reset.id)
    # the question side now scores 1.0 (the wording itself): the fused score rises by half the gap
    assert after[0].score > before_score + 0.1
    assert worded.ask(asked.upper() + "?").status == "answered"
