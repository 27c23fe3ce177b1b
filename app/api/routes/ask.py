from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool

from app import timing
from app.api.access import check_owner
from app.api.deps import (
    BatcherDep,
    EntriesDep,
    ServicesDep,
    client_id,
    client_key,
)
from app.api.schemas.ask import Answer, AskRequest, AskResponse, SourceCount, SourcesResponse, Suggestion
from app.api.schemas.common import FollowUpOut, Problem
from app.search.faq_search import Answers, Question

router = APIRouter(tags=["ask"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "model, store or collection unavailable"}
}


@router.post("/ask", response_model=AskResponse, responses=UNAVAILABLE)
async def ask(
    request: AskRequest,
    batcher: BatcherDep,
    background: BackgroundTasks,
    services: ServicesDep,
    http_request: Request,
) -> AskResponse:
    """Answer, ask back, or decline (`status`): the best FAQ answers when the FAQ's decision
    rule is confident (`answered`); else the closest FAQ questions to ask back "did you mean"
    (`clarify`); or, when nothing in the FAQ is about it, `no_answer` (suggestions only when
    close enough to offer). Questions not answered confidently are recorded for the FAQ's
    owners (GET /admin/unanswered) unless FAQ_RECORD_QUESTIONS is off. Questions asked at the
    same time are answered together (see app.serving.batcher); when too many wait, the answer
    is 503 with Retry-After."""
    started = time.perf_counter()
    client = client_key(http_request)
    if request.entry_id is not None:  # an entry the asker chose: answered as it is
        if request.version is not None:
            check_owner(http_request, http_request.headers.get("x-api-key"))
        # EntryNotFound: 404; a store read, so off the event loop
        result = await run_in_threadpool(services.search.answer_entry, str(request.entry_id))
        asked = result.answers[0].question
        if request.version is None:
            via = "" if request.via is None else str(request.via)
            background.add_task(services.record_ask, asked, result, client, client_id(http_request), via=via)
        return _response(asked, result, started)
    assert request.question is not None  # one of the two, as AskRequest checks
    question = Question(request.question, request.top_k, request.source, request.score_threshold)
    if request.version is not None:  # an admin trying a staged or older version
        check_owner(http_request, http_request.headers.get("x-api-key"))
        # VersionNotFound: 404; store reads, so off the event loop
        result = await run_in_threadpool(services.versions.ask, request.version, question)
    else:
        _stage_done(http_request, timing.HTTP)
        result = await batcher.ask(question)  # Overloaded and store errors: app.api.errors
        # Recorded after the response is sent, within the client's budgets (one client must not
        # push everyone else's questions out of the log's cap).
        background.add_task(services.record_ask, request.question, result, client, client_id(http_request))
    http_request.state.answered_at = time.perf_counter()  # the response's stage starts
    return _response(request.question, result, started)


def _stage_done(request: Request, name: str) -> None:
    """The request's stage `name` ended now (its start: when the request came, app.api.observability)."""
    came = getattr(request.state, "request_started", None)
    if came is not None:
        request.app.state.metrics.stage_seconds.labels(name).observe(time.perf_counter() - came)


def _response(question: str, result: Answers, started: float) -> AskResponse:
    return AskResponse(
        question=question,
        answers=[
            Answer(
                id=h.id,
                answer=h.answer,
                question=h.question,
                source=h.source,
                score=h.score,
                follow_ups=[FollowUpOut(id=i, question=q) for i, q in h.follow_ups],
            )
            for h in result.answers
        ],
        answered=result.answered,
        status=result.status,  # type: ignore[arg-type]  # one of STATUSES, by construction
        suggestions=[Suggestion(id=h.id, question=h.question, score=h.score) for h in result.suggestions],
        threshold=result.threshold,
        best_score=None if result.best_score is None else round(float(result.best_score), 4),
        margin=None if result.margin is None else round(float(result.margin), 4),
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


@router.get("/sources", response_model=SourcesResponse, responses=UNAVAILABLE)
def sources(live: EntriesDep) -> SourcesResponse:
    """The FAQ sources in the index with their entry counts (the values of `source` in /ask)."""
    counts = live.sources()
    return SourcesResponse(
        sources=[SourceCount(source=name, entries=n) for name, n in sorted(counts.items()) if name],
        example_question=live.example_question(),
    )
