from __future__ import annotations

from fastapi import APIRouter, status

from app.api.deps import FeedbackDep
from app.api.schemas import FeedbackIn, FeedbackOut, Problem

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses={404: {"model": Problem, "description": "no entry with this id"}, 503: {"model": Problem}},
)
def give_feedback(body: FeedbackIn, feedback: FeedbackDep) -> FeedbackOut:
    """Say whether an answer helped. `entry_id` is the answer's `id` from /ask. Stored with the
    question's embedding; helpful answers become training pairs (`faq feedback export`)."""
    saved = feedback.record(body.question, str(body.entry_id), body.helpful, body.comment)
    return FeedbackOut(id=saved.id, entry_id=saved.entry_id, helpful=saved.helpful, at=saved.at)
