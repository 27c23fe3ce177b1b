from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, status

from app.api.deps import FeedbackDep, ServicesDep, client_id, client_key
from app.api.schemas.common import Problem
from app.api.schemas.feedback import FeedbackIn, FeedbackOut

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses={
        404: {"model": Problem, "description": "no entry with this id"},
        429: {"model": Problem, "description": "this client has sent too much feedback: wait"},
        503: {"model": Problem},
    },
)
def give_feedback(
    body: FeedbackIn,
    feedback: FeedbackDep,
    services: ServicesDep,
    request: Request,
    background: BackgroundTasks,
) -> FeedbackOut:
    """Say whether an answer helped. `entry_id` is the answer's `id` from /ask. Stored with the
    question's embedding; `picked` (a suggestion chosen after the service asked back) and not
    helpful feedback go to the review queue, and only questions the owner accepted there become
    training pairs (`faq feedback export`); feedback also teaches the decision rule (GET
    /admin/rule). One client may post FAQ_FEEDBACK_PER_MINUTE a minute (429 with Retry-After
    beyond); behind a proxy of FORWARDED_ALLOW_IPS, the client is the visitor."""
    budget = services.feedback_budget
    if not budget.allow(client_key(request)):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too much feedback from this client: try again later",
            headers={"Retry-After": str(budget.retry_after())},
        )
    saved = feedback.record(
        body.question, str(body.entry_id), body.helpful, body.comment, body.picked, client_id(request)
    )
    # The decision rule learns from what askers say (app.usage.calibration), after the answer.
    background.add_task(services.calibration.feedback_arrived)
    return FeedbackOut(id=saved.id, entry_id=saved.entry_id, helpful=saved.helpful, at=saved.at)
