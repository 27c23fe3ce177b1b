from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, status

from app.api.deps import SearchDep
from app.core.store import CollectionMissing, StoreError
from app.schemas import Answer, AskRequest, AskResponse, Problem, Suggestion

router = APIRouter(tags=["ask"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "model, store or collection unavailable"}
}


# A plain `def`: FastAPI runs it on a worker thread, so torch and Qdrant never block the loop.
@router.post("/ask", response_model=AskResponse, responses=UNAVAILABLE)
def ask(request: AskRequest, search: SearchDep) -> AskResponse:
    """The best FAQ answers for a question, best first; or, when nothing in the FAQ is close
    enough (under the no-answer threshold), `answered: false` and the closest FAQ questions."""
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
