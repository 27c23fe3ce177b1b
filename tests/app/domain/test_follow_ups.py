"""Follow-ups in files and their resolving: named by question (any case and spacing) or id,
among the entries of one file or of the FAQ, each checked; written back as questions."""

from __future__ import annotations

import re

import pytest

from app.domain import follow_ups
from app.domain.entry import DataError, FaqEntry, normalise_follow_ups
from app.domain.records import load_faq

CARD = FaqEntry("How do I get a card?", "Bring an ID.", follow_ups=("what if i LOSE my card", "Renew?"))
LOST = FaqEntry("What if I lose my card?", "Report it.")
RENEW = FaqEntry("Renew?", "Online.", follow_ups=(LOST.id,))


def test_a_file_names_follow_ups_by_question_or_id_and_they_become_ids():
    card, lost, renew = follow_ups.within([CARD, LOST, RENEW])
    assert card.follow_ups == (LOST.id, RENEW.id) and renew.follow_ups == (LOST.id,) and lost.follow_ups == ()
    # written back as questions, and a follow-up whose entry is gone left out
    written = follow_ups.as_questions([("c", card)], {LOST.id: LOST.question})
    assert written[0].follow_ups == (LOST.question,)


def test_the_faq_s_own_entries_are_looked_up_only_when_needed():
    asked: list[str] = []

    def by_question() -> dict[str, str]:
        asked.append("questions")
        return {"renew": "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11"}

    (alone,) = follow_ups.resolve(
        [FaqEntry("q", "a", follow_ups=(LOST.id,))],
        ["x"],
        known_ids=lambda refs: set(refs),
        by_question=by_question,
    )
    assert alone.follow_ups == (LOST.id,) and asked == []
    (named,) = follow_ups.resolve(
        [FaqEntry("q", "a", follow_ups=("RENEW",))],
        ["x"],
        known_ids=lambda refs: set(),
        by_question=by_question,
    )
    assert named.follow_ups == ("6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11",) and asked == ["questions"]


@pytest.mark.parametrize(
    "entries, message",
    [
        ([FaqEntry("Q?", "A.", follow_ups=("nowhere",))], "the follow-up 'nowhere' of 'Q?' is neither"),
        ([FaqEntry("Q?", "A.", follow_ups=("q",))], "'Q?' cannot be its own follow-up"),
        ([FaqEntry("Q?", "A.", follow_ups=("0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e11",))], "neither a question"),
    ],
)
def test_a_follow_up_of_no_entry_is_an_error_naming_both(entries, message):
    with pytest.raises(DataError, match=re.escape(message)):
        follow_ups.within(entries)
    problems: list[tuple[int, str]] = []
    follow_ups.resolve(entries, ["x"], known_ids=lambda r: set(), by_question=dict, problems=problems)
    assert problems and message.split(" is neither")[0].strip("'") in problems[0][1]


def test_follow_up_lists_are_bounded_and_kept_once():
    assert normalise_follow_ups("a | A |b||") == ("a", "b")
    with pytest.raises(ValueError, match="at most 10"):
        normalise_follow_ups([f"q{n}" for n in range(11)])
    with pytest.raises(ValueError, match="must be a string"):
        normalise_follow_ups([3])


def test_follow_up_columns_of_a_spreadsheet_are_read(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text(
        "Question,Answer,Follow-up questions,Related question 2\n"
        '"How do I get a card?","Bring an ID.","What if I lose my card?|Renew?",""\n'
        '"What if I lose my card?","Report it.","","How do I get a card?"\n'
    )
    first, second = load_faq(path).entries
    assert first.follow_ups == ("What if I lose my card?", "Renew?")
    assert second.follow_ups == ("How do I get a card?",)
    assert first.id == FaqEntry("How do I get a card?", "Bring an ID.").id, "not part of the content id"
