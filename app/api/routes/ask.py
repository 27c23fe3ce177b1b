from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, status

from app.api.deps import EntriesDep, SearchDep, UnansweredDep
from app.core.store import CollectionMissing, StoreError
from app.schemas import (
    Answer,
    AskRequest,
    AskResponse,
    Problem,
    SourceCount,
    SourcesResponse,
    Suggestion,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ask"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "model, store or collection unavailable"}
}


# A plain `def`: FastAPI runs it on a worker thread, so torch and Qdrant never block the loop.
@router.post("/ask", response_model=AskResponse, responses=UNAVAILABLE)
def ask(
    request: AskRequest, search: SearchDep, unanswered: UnansweredDep, background: BackgroundTasks
) -> AskResponse:
    """The best FAQ answers for a question, best first; or, when nothing in the FAQ is close
    enough (under the no-answer threshold), `answered: false` and the closest FAQ questions.
    Unanswered questions are recorded for the FAQ's owners (GET /admin/unanswered) unless
    FAQ_RECORD_QUESTIONS is off."""
    started = time.perf_counter()
    try:
        result = search.ask(
            request.question,
            top_k=request.top_k,
            source=request.source,
            score_threshold=request.score_threshold,
        )
    except CollectionMissing as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except StoreError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the vector store failed: {exc}") from None
    # Compared with the servable's own threshold, whatever this request asked for: a missing
    # topic is missing for every user. Written after the response is sent.
    calibrated = search.settings.no_answer_threshold
    if unanswered.enabled and result.embedding is not None and calibrated is not None:
        if result.best_score is None or result.best_score < calibrated:
            background.add_task(_record, unanswered, request.question, result.best_score, result.embedding)
    return AskResponse(
        question=request.question,
        answers=[
            Answer(id=h.id, answer=h.answer, question=h.question, source=h.source, score=h.score)
            for h in result.answers
        ],
        answered=result.answered,
        suggestions=[Suggestion(id=h.id, question=h.question, score=h.score) for h in result.suggestions],
        threshold=result.threshold,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _record(log, question: str, best_score: float | None, embedding) -> None:
    try:
        log.record(question, best_score, embedding)
    except StoreError as exc:  # the answer has been sent; losing one record is only logged
        logger.warning("could not record an unanswered question: %s", exc)


@router.get("/sources", response_model=SourcesResponse, responses=UNAVAILABLE)
def sources(live: EntriesDep) -> SourcesResponse:
    """The FAQ sources in the index with their entry counts (the values of `source` in /ask)."""
    counts = live.sources()
    return SourcesResponse(
        sources=[SourceCount(source=name, entries=n) for name, n in sorted(counts.items()) if name]
    )
