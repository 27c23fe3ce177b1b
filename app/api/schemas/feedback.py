"""/feedback and the unanswered questions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import (
    BaseModel,
    Field,
)

from app.api.schemas.common import QuestionText, optional_text, strict_body

# ---- feedback and unanswered questions --------------------------------------------------------
MAX_COMMENT_CHARS = 2000


class FeedbackIn(BaseModel):
    model_config = strict_body(
        {
            "question": "can i run a cluster for a long time?",
            "entry_id": "0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e11",
            "helpful": True,
        }
    )

    question: QuestionText = Field(description="The question that was asked.")
    entry_id: UUID = Field(description="The `id` of the answer, as /ask returned it.", strict=False)
    helpful: bool
    comment: Annotated[
        str,
        optional_text("comment", MAX_COMMENT_CHARS),
        Field(description=f"At most {MAX_COMMENT_CHARS} characters."),
    ] = ""
    picked: bool = Field(
        default=False,
        description="The user picked this entry among the suggestions of an asked-back question "
        "(status `clarify`): the question goes to the review queue as a wording to confirm.",
    )


class FeedbackOut(BaseModel):
    id: str
    entry_id: str
    helpful: bool
    at: str


class UnansweredGroupOut(BaseModel):
    representative: str = Field(description="The wording nearest the group's centre.")
    count: int = Field(description="How many recorded questions are in the group.")
    best_score: float | None = Field(description="The best score any of them reached.")
    first_asked: str
    last_asked: str
    examples: list[str]


class UnansweredResponse(BaseModel):
    recording: bool = Field(description="False when FAQ_RECORD_QUESTIONS is off.")
    questions: int = Field(description="Recorded questions in all groups.")
    groups: list[UnansweredGroupOut]
