"""Answering a question: encode it with the servable and search the store. Used by the HTTP
service, by `faq ask` without a server, and by the evaluation, so all three answer alike."""

from __future__ import annotations

from app.core.servable import Servable
from app.core.store import FaqStore, Hit, SearchSettings


def answer_question(
    servable: Servable,
    store: FaqStore,
    alias: str,
    question: str,
    *,
    top_k: int = 5,
    source: str | None = None,
    score_threshold: float | None = None,
    search: SearchSettings | None = None,
) -> list[Hit]:
    """`search` overrides the servable's own search settings (evaluation compares modes)."""
    search = search or servable.search_settings
    vector = servable.encode([question])[0]
    question_vector = None
    if search.mode == "fused" and servable.question_model is not servable.model:
        question_vector = servable.encode_question_side([question])[0]
    return store.search(
        alias,
        vector,
        question_query=question_vector,
        limit=top_k,
        source=source,
        score_threshold=score_threshold,
        fusion=search,
    )
