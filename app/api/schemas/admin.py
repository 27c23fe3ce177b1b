"""The owner's routes under /admin: reindex jobs, the review queue, imports, versions and test
sets, insights, the decision rule."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    Field,
    model_validator,
)

from app.api.schemas.common import AnswerText, QuestionText, SourceText, strict_body
from app.api.schemas.entries import EntryOut, EntryWarningOut
from app.domain.entry import (
    MAX_ALTERNATES,
)


class ReindexJob(BaseModel):
    id: str
    status: str = Field(description="running, succeeded or failed")
    done: int = 0
    total: int = 0
    report: dict | None = None
    error: str | None = None


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


class NextStep(BaseModel):
    id: str
    question: str | None = Field(description="None when the entry has since been deleted.")
    count: int = Field(description="How often askers chose it after the entry above.")


class FollowUpPath(BaseModel):
    id: str = Field(description="An entry whose follow-ups askers chose.")
    question: str | None = Field(description="None when the entry has since been deleted.")
    chosen: int = Field(description="Follow-ups of it chosen, in all.")
    next: list[NextStep] = Field(description="Which, most chosen first.")


class InsightsOut(BaseModel):
    days: list[DayCounts] = Field(description="Asks per day by outcome, oldest first.")
    top_entries: list[TopEntry] = Field(description="The most asked entries (answered confidently).")
    unanswered: list[UnansweredTopic] = Field(description="The most frequent unanswered groups.")
    feedback: list[EntryFeedback] = Field(description="Helpful / not helpful per entry.")
    next_steps: list[FollowUpPath] = Field(
        default=[], description="Where askers went next: the follow-ups chosen after each entry."
    )


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
