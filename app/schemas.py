"""Request and response models of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.config import MAX_QUESTION_CHARS


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
    source: str | None = Field(default=None, description="Only answers from this FAQ source (aws, gcp, ...).")
    score_threshold: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="Drop answers with a lower cosine similarity."
    )

    @field_validator("question")
    @classmethod
    def _question_has_text(cls, value: str) -> str:
        text = value.strip()
        if not text:
            raise ValueError("question must not be empty")
        if len(text) > MAX_QUESTION_CHARS:
            raise ValueError(f"question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}")
        return text


class Answer(BaseModel):
    id: str
    answer: str
    question: str = Field(description="The FAQ question this answer belongs to.")
    source: str
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
                    "took_ms": 21.4,
                }
            ]
        }
    )

    question: str
    answers: list[Answer]
    took_ms: float


class Problem(BaseModel):
    detail: str


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


class ReindexJob(BaseModel):
    id: str
    status: str = Field(description="running, succeeded or failed")
    done: int = 0
    total: int = 0
    report: dict | None = None
    error: str | None = None
