"""Request and response models of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.config import MAX_QUESTION_CHARS
from app.core.data import check_text

MAX_SOURCE_CHARS = 200


class AskRequest(BaseModel):
    # Strict: a number where the question belongs is a client bug, not something to coerce.
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "can i run a cluster or job for a long time?", "top_k": 3},
                {
                    "question": "how is aws lambda billed?",
                    "top_k": 5,
                    "source": "aws",
                    "score_threshold": 0.3,
                },
            ]
        },
    )

    question: str = Field(description=f"The user's question, 1 to {MAX_QUESTION_CHARS} characters.")
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
        description="Answer only with entries scoring at least this (the scores of `answers`); "
        "default: the servable's calibrated no-answer threshold.",
    )

    @field_validator("question")
    @classmethod
    def _question_has_text(cls, value: str) -> str:
        # The limit reads the text as sent: 10 MB of spaces around one word is not a question.
        if len(value) > MAX_QUESTION_CHARS:
            raise ValueError(f"question is {len(value)} characters long; the limit is {MAX_QUESTION_CHARS}")
        text = check_text(value, "question").strip()
        if not text:
            raise ValueError("question must not be empty")
        # NULs, zero-width and other invisible characters alone carry nothing to match.
        if not any(c.isalnum() for c in text):
            raise ValueError("question must contain at least one letter or digit")
        return text

    @field_validator("source")
    @classmethod
    def _source_is_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "source")


class Answer(BaseModel):
    id: str
    answer: str
    question: str = Field(description="The FAQ question this answer belongs to.")
    source: str
    score: float


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
                    "suggestions": [],
                    "threshold": 0.62,
                    "took_ms": 21.4,
                }
            ]
        }
    )

    question: str
    answers: list[Answer] = Field(description="Best first; empty when no entry scored above the threshold.")
    answered: bool = Field(description="False when the service declines: nothing in the FAQ is close enough.")
    suggestions: list[Suggestion] = Field(
        description="When not answered: the closest FAQ questions, for a 'did you mean' prompt."
    )
    threshold: float | None = Field(description="The no-answer threshold applied (null: none).")
    took_ms: float


class Problem(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    """A request that does not validate: `detail` says what is wrong in words, `errors` where."""

    detail: str
    errors: list[dict] = []


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


class ReindexJob(BaseModel):
    id: str
    status: str = Field(description="running, succeeded or failed")
    done: int = 0
    total: int = 0
    report: dict | None = None
    error: str | None = None
