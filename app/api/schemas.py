"""Request and response models of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    field_validator,
    model_validator,
)

from app.domain.entry import (
    MAX_ALTERNATES,
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    MAX_SOURCE_CHARS,
    FaqEntry,
    check_text,
    field_text,
)
from app.search.duplicates import EntryWarning


def strict_body(*examples: dict) -> ConfigDict:
    """A request body's model config. Strict: a number where the question belongs is a client
    bug, not something to coerce; unknown fields are refused, not ignored."""
    return ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": list(examples)})


class AskRequest(BaseModel):
    model_config = strict_body(
        {"question": "can i run a cluster or job for a long time?", "top_k": 3},
        {"question": "how is aws lambda billed?", "top_k": 5, "source": "aws", "score_threshold": 0.3},
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
    def _question_has_text(cls, value: str) -> str:
        return field_text(value, "question", required=True, limit=MAX_QUESTION_CHARS, question=True)

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


# ---- live FAQ entries -------------------------------------------------------------------------


def _entry_text(name: str, limit: int) -> AfterValidator:
    """The data file's rules for a required text field, plus a length limit."""

    return AfterValidator(
        lambda value: field_text(value, name, required=True, limit=limit, question=name == "question")
    )


def _optional_text(name: str, limit: int) -> AfterValidator:
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
    _optional_text("source", MAX_SOURCE_CHARS),
    Field(description=f"At most {MAX_SOURCE_CHARS} characters."),
]
PageText = Annotated[
    str,
    _optional_text("filename", MAX_SOURCE_CHARS),
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

    @model_validator(mode="after")
    def _something_to_change(self) -> EntryUpdate:
        if not self.model_fields_set:
            raise ValueError(
                "nothing to change: give at least one of question, answer, source, filename, alternates"
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
    warnings: list[EntryWarningOut] | None = Field(
        default=None, description="After a change: entries it is very close to (absent when read)."
    )

    @classmethod
    def of(cls, entry_id: str, entry: FaqEntry, warnings: list[EntryWarning] | None = None) -> EntryOut:
        return cls(
            id=entry_id,
            question=entry.question,
            answer=entry.answer,
            source=entry.source,
            filename=entry.filename,
            alternates=list(entry.alternates),
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


class SourceCount(BaseModel):
    source: str
    entries: int


class SourcesResponse(BaseModel):
    sources: list[SourceCount]
    example_question: str | None = Field(
        default=None,
        description="One of the FAQ's own questions, for the page's placeholder (none: empty FAQ).",
    )


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
        _optional_text("comment", MAX_COMMENT_CHARS),
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


# ---- the review queue -------------------------------------------------------------------------


class NearestEntry(BaseModel):
    id: str
    question: str
    score: float


class ReviewItemOut(BaseModel):
    id: str = Field(description="The item's id, for POST /admin/review/{item_id}.")
    kind: Literal["unanswered", "picked_suggestion", "not_helpful"]
    count: int = Field(description="How many times it was asked (or the feedback given).")
    examples: list[str] = Field(description="Its questions, most typical first (at most 5).")
    nearest: list[NearestEntry] = Field(description="The FAQ entries nearest to its first question.")
    entry_id: str | None = Field(default=None, description="The entry the feedback was about.")
    suggested_action: Literal["create_entry", "add_wording"] = Field(
        default="add_wording",
        description="create_entry: no entry comes close enough to answer it (the nearest is far).",
    )


class ReviewQueueOut(BaseModel):
    items: list[ReviewItemOut]


class ReviewAction(BaseModel):
    """`add_wording`: the item's questions (or `wordings`, some of them) become wordings of
    `entry_id`; `create_entry`: a new entry with `answer` (`question`: the item's first
    example unless given; its other questions become wordings); `dismiss`."""

    model_config = strict_body({"action": "add_wording", "entry_id": "0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e11"})

    action: Literal["add_wording", "create_entry", "dismiss"]
    entry_id: UUID | None = Field(default=None, strict=False)
    wordings: Annotated[list[QuestionText], Field(min_length=1, max_length=MAX_ALTERNATES)] | None = None
    answer: AnswerText | None = None
    question: QuestionText | None = None
    source: SourceText = ""

    @model_validator(mode="after")
    def _fields_of_the_action(self) -> ReviewAction:
        if self.action == "add_wording" and self.entry_id is None:
            raise ValueError("add_wording needs entry_id: the entry the questions are wordings of")
        if self.action == "create_entry" and self.answer is None:
            raise ValueError("create_entry needs answer: the new entry's answer")
        return self


class ReviewDone(BaseModel):
    item: str
    action: str
    entry: EntryOut | None = Field(default=None, description="The entry added to or created.")
    dismissed: int | None = Field(default=None, description="Questions dismissed.")


# ---- importing into the running FAQ -----------------------------------------------------------


class RowError(BaseModel):
    where: str = Field(description="The row or line in the file (`row 7`, `line 3`).")
    problem: str


class ImportReport(BaseModel):
    mode: Literal["merge", "replace"]
    dry_run: bool
    added: int
    changed: int
    removed: int
    unchanged: int
    warnings: list[EntryWarningOut] = Field(description="Entries very close to another one, by row.")
    errors: list[RowError] = Field(description="Invalid rows: with any, nothing is written.")
    ignored_columns: list[str] = Field(
        default_factory=list,
        description="The file's columns that were not read (\"column 'Notes' ignored\").",
    )
    job: ReindexJob | None = Field(default=None, description="A replace runs as this reindex job.")


# ---- versions and the test set ----------------------------------------------------------------


class TestCounts(BaseModel):
    version: str
    at: str
    total: int
    right: int = Field(
        description="Answered confidently with the expected entry (or, for none, not answered)."
    )
    clarified: int = Field(description="Asked back with the expected entry among the suggestions.")
    wrong: int = Field(description="Answered confidently with another entry (or at all, for none).")
    declined: int = Field(description="Not answered, the expected entry not suggested.")


class TestCaseResult(BaseModel):
    question: str
    expected_id: str | None
    expected_question: str | None
    status: str
    top_id: str | None
    top_question: str | None
    score: float | None
    outcome: Literal["right", "clarified", "wrong", "declined"]


class TestResult(TestCounts):
    results: list[TestCaseResult]


class VersionOut(BaseModel):
    name: str
    created: str | None = Field(description="When it was built (None: before versions were recorded).")
    entries: int
    origin: str = Field(description="What built it: reindex, import, or live (the first live entry).")
    live: bool
    staged: bool = Field(description="Built to be tested before it goes live (not yet activated).")
    test: TestCounts | None = Field(description="Its last test-set result.")
    activated: dict | None = Field(
        default=None,
        description="Its last activation: when, how (rollback, staged version published), forced.",
    )


class VersionsOut(BaseModel):
    versions: list[VersionOut]


class VersionRefused(BaseModel):
    detail: str
    version: dict = Field(description="The version's last test result.")
    live: dict = Field(description="The live version's last test result.")


# ---- insights -----------------------------------------------------------------------------------


class DayCounts(BaseModel):
    date: str
    asks: int
    answered: int
    clarify: int
    no_answer: int


class TopEntry(BaseModel):
    id: str
    question: str | None = Field(description="None when the entry has since been deleted.")
    asks: int = Field(description="Questions it answered confidently.")


class UnansweredTopic(BaseModel):
    question: str
    count: int
    last_asked: str
    examples: list[str]


class EntryFeedback(BaseModel):
    id: str
    question: str
    helpful: int
    not_helpful: int


class InsightsOut(BaseModel):
    days: list[DayCounts] = Field(description="Asks per day by outcome, oldest first.")
    top_entries: list[TopEntry] = Field(description="The most asked entries (answered confidently).")
    unanswered: list[UnansweredTopic] = Field(description="The most frequent unanswered groups.")
    feedback: list[EntryFeedback] = Field(description="Helpful / not helpful per entry.")


# ---- the decision rule and what askers taught it ---------------------------------------------
class RuleNumbers(BaseModel):
    answer_score: float = Field(description="Answer when the best score reaches this ...")
    answer_margin: float = Field(description="... and the best entry leads the next other answer by this.")
    clarify_score: float | None = Field(
        default=None, description="Ask back from this score; decline under it."
    )
    related_score: float | None = Field(
        default=None, description="Declined questions offer entries from this."
    )
    entries: int | None = Field(default=None, description="Entries of the FAQ it was fitted to.")


class AskerChange(BaseModel):
    answer_score: float | None = None
    answer_margin: float | None = None
    labels: int | None = Field(default=None, description="Labelled asks it was fitted on.")
    clients: int | None = Field(default=None, description="Distinct clients they came from.")
    moved: bool | None = None
    reason: str | None = None
    right_before: int | None = Field(
        default=None, description="Labelled asks the FAQ's own rule answers right."
    )
    right_after: int | None = Field(default=None, description="... and this rule.")
    wrong_after: int | None = None
    at: str | None = None


class RuleOut(BaseModel):
    rule: RuleNumbers | None = Field(description="The rule in force (none: nothing indexed).")
    faq_rule: RuleNumbers | None = Field(description="The rule fitted to the FAQ itself.")
    from_askers: AskerChange | None = Field(description="What askers' labels changed (none: nothing).")
    previous: RuleNumbers | None = Field(description="The rule before that change (what undo restores).")
