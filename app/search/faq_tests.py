"""A FAQ test set: questions with the entry that must answer each (or none: must not be answered
confidently), run against a version of the FAQ, so that every change is checked before users
see it (`faq test FILE`, POST /admin/test).

A test file is any data format the readers take, one case a row: `question`, and `expected_id`
(an entry's id) or `expected_question` (an entry's question, as written in the FAQ);
`expected_question: none` (or an empty expectation) for a question that must not be answered.

Outcomes: `right` (answered confidently with the expected entry; for "none": not answered
confidently), `clarified` (asked back with the expected entry among the suggestions), `wrong`
(answered confidently with another entry, or at all when none was expected), `declined` (not
answered, and the expected entry not suggested).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.entry import MAX_QUESTION_CHARS, field_text, wording_key
from app.domain.formats import read_rows
from app.domain.records import records_from_rows
from app.search.decision import ANSWERED, CLARIFY
from app.search.faq_search import FaqSearch, Question

NONE = "none"
OUTCOMES = ("right", "clarified", "wrong", "declined")
BATCH = 64


@dataclass(frozen=True)
class TestQuestion:
    question: str
    expected_id: str | None
    expected_question: str | None

    @property
    def expects_none(self) -> bool:
        return self.expected_id is None and (self.expected_question or NONE).lower() == NONE

    @classmethod
    def from_record(cls, record: dict) -> TestQuestion:
        question = record.get("question")
        if not isinstance(question, str):
            raise ValueError("missing field 'question'")
        # /ask's limits: a case is asked like a question
        text = field_text(
            question, "field 'question'", required=True, limit=MAX_QUESTION_CHARS, question=True
        )
        expected_id = record.get("expected_id")
        expected_question = record.get("expected_question")
        for name, value in (("expected_id", expected_id), ("expected_question", expected_question)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"field '{name}' must be a string")
        expected_id = (expected_id or "").strip() or None
        expected_question = (expected_question or "").strip() or None
        if expected_id is not None and expected_id.lower() == NONE:
            expected_id, expected_question = None, NONE
        return cls(text, expected_id, expected_question)


def read_test_set(data: bytes, fmt: str, origin: str) -> list[TestQuestion]:
    """Every case of a test file (DataError naming the row of a bad one)."""
    rows = read_rows(data, fmt, origin, required=("question",))
    cases, _ = records_from_rows(rows, TestQuestion.from_record, origin=origin)
    return cases


def run_test_set(search: FaqSearch, cases: list[TestQuestion], version: str) -> dict:
    """Ask every case of the test set of `search`'s collection; the counts and every result."""
    entries = dict(search.store.each_entry(search.alias))
    by_question = {wording_key(entry.question): pid for pid, entry in entries.items()}
    results = []
    for start in range(0, len(cases), BATCH):
        chunk = cases[start : start + BATCH]
        answers = search.ask_many([Question(case.question, top_k=5) for case in chunk])
        for case, answer in zip(chunk, answers, strict=True):
            expected = case.expected_id
            if expected is None and not case.expects_none and case.expected_question:
                expected = by_question.get(wording_key(case.expected_question))
            top = answer.answers[0] if answer.answers else None
            if case.expects_none:
                outcome = "wrong" if answer.status == ANSWERED else "right"
            elif expected is None or expected not in entries:
                outcome = "wrong"  # the expected entry is not in this version at all
            elif answer.status == ANSWERED:
                outcome = "right" if top is not None and top.id == expected else "wrong"
            elif answer.status == CLARIFY and any(h.id == expected for h in answer.suggestions):
                outcome = "clarified"
            else:
                outcome = "declined"
            results.append(
                {
                    "question": case.question,
                    "expected_id": None if case.expects_none else expected,
                    "expected_question": NONE
                    if case.expects_none
                    else (entries[expected].question if expected in entries else case.expected_question),
                    "status": answer.status,
                    "top_id": top.id if top else None,
                    "top_question": top.question if top else None,
                    "score": None if answer.best_score is None else round(answer.best_score, 4),
                    "outcome": outcome,
                }
            )
    counts = Counter(r["outcome"] for r in results)
    return {
        "version": version,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(results),
        **{outcome: counts[outcome] for outcome in OUTCOMES},
        "results": results,
    }
