"""Pieces every route group's models share: strict bodies with examples, the problem bodies,
and the entry text types (their rules are app.domain.entry's)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
)

from app.domain.entry import (
    MAX_ALTERNATES,
    MAX_ANSWER_CHARS,
    MAX_FOLLOW_UPS,
    MAX_QUESTION_CHARS,
    MAX_SOURCE_CHARS,
    field_text,
)


def strict_body(*examples: dict) -> ConfigDict:
    """A request body's model config. Strict: a number where the question belongs is a client
    bug, not something to coerce; unknown fields are refused, not ignored."""
    return ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": list(examples)})


class Problem(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    """A request that does not validate: `detail` says what is wrong in words, `errors` where."""

    detail: str
    errors: list[dict] = []


def _entry_text(name: str, limit: int) -> AfterValidator:
    """The data file's rules for a required text field, plus a length limit."""

    return AfterValidator(
        lambda value: field_text(value, name, required=True, limit=limit, question=name == "question")
    )


def optional_text(name: str, limit: int) -> AfterValidator:
    # The limit in the validator, not as Field(max_length): pydantic would apply that after
    # validation and count "items", not characters.
    return AfterValidator(lambda value: field_text(value, name, required=False, limit=limit))


QuestionText = Annotated[
    str,
    _entry_text("question", MAX_QUESTION_CHARS),
    Field(description=f"1 to {MAX_QUESTION_CHARS} characters."),
]
AnswerText = Annotated[
    str, _entry_text("answer", MAX_ANSWER_CHARS), Field(description=f"1 to {MAX_ANSWER_CHARS} characters.")
]
SourceText = Annotated[
    str,
    optional_text("source", MAX_SOURCE_CHARS),
    Field(description=f"At most {MAX_SOURCE_CHARS} characters."),
]
PageText = Annotated[
    str,
    optional_text("filename", MAX_SOURCE_CHARS),
    Field(description=f"At most {MAX_SOURCE_CHARS} characters."),
]
# The entry's page: the data file calls it `filename`; `page` is accepted too.
PAGE_NAMES = AliasChoices("filename", "page")
Wordings = Annotated[
    list[QuestionText],
    Field(
        max_length=MAX_ALTERNATES,
        description=f"Other wordings of the question (at most {MAX_ALTERNATES}), each like a question.",
    ),
]
FollowUpRefs = Annotated[
    list[Annotated[str, optional_text("follow-up", MAX_QUESTION_CHARS)]],
    Field(
        max_length=MAX_FOLLOW_UPS,
        description=f"The entries offered after the answer (at most {MAX_FOLLOW_UPS}), each named by "
        "its id or its question (this FAQ's, or another of the entries sent).",
    ),
]


class FollowUpOut(BaseModel):
    """An entry offered after an answer: choose it with POST /ask {"entry_id": id, "via": ...}."""

    id: str
    question: str
