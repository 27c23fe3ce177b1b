"""The asker's routes: /ask, /sources, /health and /ready."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.api.schemas.common import FollowUpOut, strict_body
from app.domain.entry import (
    MAX_QUESTION_CHARS,
    MAX_SOURCE_CHARS,
    check_text,
    field_text,
)


class AskRequest(BaseModel):
    model_config = strict_body(
        {"question": "can i run a cluster or job for a long time?", "top_k": 3},
        {"question": "how is aws lambda billed?", "top_k": 5, "source": "aws", "score_threshold": 0.3},
        {"entry_id": "0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e11", "via": "5a8e2c4d-1f0b-5e7a-9c3d-6b2a1e0f4d22"},
    )

    question: str | None = Field(
        default=None,
        description=f"The user's question, 1 to {MAX_QUESTION_CHARS} characters (or `entry_id`).",
    )
    entry_id: UUID | None = Field(
        default=None,
        strict=False,  # a UUID is sent as a string
        description="Instead of a question: the entry the asker chose (a follow-up, a 'did you mean'), "
        "answered directly with its follow-ups.",
    )
    via: UUID | None = Field(
        default=None,
        strict=False,
        description="With `entry_id`: the entry whose follow-up was chosen, so insights can show where "
        "askers go next.",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="How many answers to return.")
    source: str | None = Field(
        default=None,
        max_length=MAX_SOURCE_CHARS,
        description="Only answers from this FAQ source (aws, gcp, ...).",
    )
    score_threshold: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="Answer (status answered) exactly when the best entry scores at least this (the "
        "scores of `answers`), overriding the FAQ's fitted decision rule.",
    )
    version: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Admin only (X-API-Key): ask this version of the FAQ (a staged or older one, "
        "GET /admin/versions) instead of the live one; not recorded.",
    )

    @field_validator("question")
    @classmethod
    def _question_has_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return field_text(value, "question", required=True, limit=MAX_QUESTION_CHARS, question=True)

    @model_validator(mode="after")
    def _a_question_or_an_entry(self) -> AskRequest:
        if (self.question is None) == (self.entry_id is None):
            raise ValueError("give either `question` or `entry_id`")
        if self.via is not None and self.entry_id is None:
            raise ValueError("`via` goes with `entry_id`")
        return self

    @field_validator("source")
    @classmethod
    def _source_is_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "source")


class Answer(BaseModel):
    id: str
    answer: str
    question: str = Field(description="The FAQ question this answer belongs to.")
    source: str
    score: float = Field(description="How close the entry is to the question (1.0: chosen by the asker).")
    follow_ups: list[FollowUpOut] = Field(
        default=[], description="Entries to offer after this answer (POST /ask with their `entry_id`)."
    )


class Suggestion(BaseModel):
    id: str
    question: str = Field(description="An FAQ question close to the one asked.")
    score: float


class AskResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "can i run a cluster or job for a long time?",
                    "answers": [
                        {
                            "id": "0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e11",
                            "answer": "yes, cloud dataproc clusters can run for as long as you need",
                            "question": "can i run a cluster or job for a long time?",
                            "source": "gcp",
                            "score": 0.83,
                        }
                    ],
                    "answered": True,
                    "status": "answered",
                    "suggestions": [],
                    "threshold": 0.62,
                    "best_score": 0.83,
                    "margin": 0.12,
                    "took_ms": 21.4,
                }
            ]
        }
    )

    question: str
    answers: list[Answer] = Field(description="Best first; empty unless status is answered.")
    answered: bool = Field(description="True exactly when status is answered.")
    status: Literal["answered", "clarify", "no_answer"] = Field(
        description="answered: a confident answer; clarify: not sure, `suggestions` holds the "
        "closest entries (up to 3, best first) to ask back 'did you mean'; no_answer: nothing in "
        "the FAQ answers it, `suggestions` holds only entries close enough to offer (often none)."
    )
    suggestions: list[Suggestion] = Field(
        description="When not answered: FAQ questions to offer (see status), best first."
    )
    threshold: float | None = Field(
        description="The score an answer must reach (the rule's answer_score, or score_threshold; "
        "null: none)."
    )
    best_score: float | None = Field(
        default=None, description="The best entry's score, as the decision rule read it (null: empty FAQ)."
    )
    margin: float | None = Field(
        default=None,
        description="How far the best entry leads the best entry with another answer, as the rule read it.",
    )
    took_ms: float


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    status: str
    servable: str | None = None
    device: str | None = None
    store: str | None = None
    collection: str | None = None
    alias: str | None = None
    points: int | None = None
    problems: list[str] = []
    unfinished_versions: list[str] = Field(
        default=[],
        description="Collection versions left by an interrupted index job (dropped by the next one).",
    )


class SourceCount(BaseModel):
    source: str
    entries: int


class SourcesResponse(BaseModel):
    sources: list[SourceCount]
    example_question: str | None = Field(
        default=None,
        description="One of the FAQ's own questions, for the page's placeholder (none: empty FAQ).",
    )
