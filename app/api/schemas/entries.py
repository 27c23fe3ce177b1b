"""/faq/entries: live entries and their wordings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    model_validator,
)

from app.api.schemas.common import (
    PAGE_NAMES,
    AnswerText,
    FollowUpOut,
    FollowUpRefs,
    PageText,
    QuestionText,
    SourceText,
    Wordings,
    strict_body,
)
from app.domain.entry import (
    MAX_ALTERNATES,
    FaqEntry,
)
from app.search.duplicates import EntryWarning


class EntryIn(BaseModel):
    """A FAQ entry as in the data file: `question` and `answer` required; `source` (the FAQ it
    belongs to, for the source filter) and `filename` (its page, also accepted as `page`)."""

    model_config = strict_body(
        {
            "question": "how do i rotate my api keys?",
            "answer": "open settings, choose api keys and click rotate; the old key works for a day",
            "source": "acme",
            "filename": "security_faqs",
        }
    ) | ConfigDict(populate_by_name=True)

    question: QuestionText
    answer: AnswerText
    source: SourceText = ""
    filename: PageText = Field(default="", validation_alias=PAGE_NAMES)
    alternates: Wordings = []
    follow_ups: FollowUpRefs = []


class EntriesIn(RootModel[list[EntryIn]]):
    """One entry (an object) or several (an array of them)."""

    model_config = ConfigDict(
        json_schema_extra={"description": "An entry object, or an array of entry objects."}
    )

    @model_validator(mode="before")
    @classmethod
    def _one_is_a_list_of_one(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value


class EntryUpdate(BaseModel):
    """The fields to change; the others keep their values. The entry keeps its id."""

    model_config = strict_body() | ConfigDict(populate_by_name=True)

    question: QuestionText | None = None
    answer: AnswerText | None = None
    source: SourceText | None = None
    filename: PageText | None = Field(default=None, validation_alias=PAGE_NAMES)
    alternates: Wordings | None = Field(default=None, description="The entry's whole list of wordings.")
    follow_ups: FollowUpRefs | None = Field(default=None, description="The entry's whole list of follow-ups.")

    @model_validator(mode="after")
    def _something_to_change(self) -> EntryUpdate:
        if not self.model_fields_set:
            raise ValueError(
                "nothing to change: give at least one of question, answer, source, filename, "
                "alternates, follow_ups"
            )
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:  # null is not a value: "" clears an optional field
            raise ValueError(f'{", ".join(nulls)} must not be null (use "" to clear source or filename)')
        return self


class EntryWarningOut(BaseModel):
    """An entry very close to another one (`similar`), or with the same question as another and
    a different answer (`conflict`): written anyway, for the owner to look at."""

    index: int = Field(description="The entry's place in what was sent (0 for one entry).")
    kind: Literal["similar", "conflict"]
    other_id: str = Field(description="The other entry.")
    other_question: str
    similarity: float = Field(description="Cosine similarity of the closest wordings (question side).")
    message: str
    where: str | None = Field(default=None, description="The row of a file, when there is one.")

    @classmethod
    def of(cls, warning: EntryWarning) -> EntryWarningOut:
        return cls.model_validate(warning.to_record())


class EntryOut(BaseModel):
    id: str = Field(description="The entry's id: the `id` of its answers in /ask.")
    question: str
    answer: str
    source: str
    filename: str
    alternates: list[str] = Field(default=[], description="Other wordings of the question.")
    follow_ups: list[FollowUpOut] = Field(default=[], description="The entries offered after its answer.")
    warnings: list[EntryWarningOut] | None = Field(
        default=None, description="After a change: entries it is very close to (absent when read)."
    )

    @classmethod
    def of(
        cls,
        entry_id: str,
        entry: FaqEntry,
        warnings: list[EntryWarning] | None = None,
        questions: Mapping[str, str] | None = None,
    ) -> EntryOut:
        """`questions`: the follow-ups' questions by id (a follow-up without one is left out)."""
        questions = questions or {}
        return cls(
            id=entry_id,
            question=entry.question,
            answer=entry.answer,
            source=entry.source,
            filename=entry.filename,
            alternates=list(entry.alternates),
            follow_ups=[FollowUpOut(id=i, question=questions[i]) for i in entry.follow_ups if i in questions],
            warnings=None if warnings is None else [EntryWarningOut.of(w) for w in warnings],
        )


class WordingsIn(BaseModel):
    """Wordings to add to an entry (what users asked): each answers with the entry at once."""

    model_config = strict_body({"wordings": ["can i renew a book online?", "renew loans from home"]})

    wordings: Annotated[list[QuestionText], Field(min_length=1, max_length=MAX_ALTERNATES)]


class EntriesCreated(BaseModel):
    ids: list[str] = Field(description="The ids of the entries, in the order sent.")
    warnings: list[EntryWarningOut] = Field(
        default=[], description="Entries very close to another one (written anyway)."
    )


class EntryPage(BaseModel):
    entries: list[EntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")
