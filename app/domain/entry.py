"""The FAQ entry: its fields, its id, and the checks a text must pass to be stored."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

# A fixed namespace makes an entry's id a pure function of its content: re-indexing is idempotent.
ENTRY_NAMESPACE = uuid.UUID("6f1c1a8e-7a0b-4a53-9d1f-4b2f8f0e6c11")


class DataError(ValueError):
    """A data file that cannot be used, with a message that names the file and the problem."""


def check_text(value: str, what: str) -> str:
    """`value` if it can be stored and encoded as UTF-8; a lone surrogate (which JSON's \\ud800
    escape produces) cannot, and would fail much later in the tokenizer or the store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains an invalid character (a lone UTF-16 surrogate)") from None
    return value


def normalise_text(value: str, what: str, *, required: bool) -> str:
    """The one normaliser of an entry's text, for data files and the API alike: surrounding
    whitespace goes (a spreadsheet cell's trailing space must not give the same entry a second
    id), required text must remain."""
    text = check_text(value, what).strip()
    if required and not text:
        raise ValueError(f"{what} must not be empty")
    return text


# The longest texts an entry may hold, the same for data files and the API (a longer source
# could never be filtered on; a longer question could never be asked).
MAX_QUESTION_CHARS = 2000
MAX_ANSWER_CHARS = 20_000
MAX_SOURCE_CHARS = 200
FIELD_LIMITS = {
    "question": MAX_QUESTION_CHARS,
    "answer": MAX_ANSWER_CHARS,
    "source": MAX_SOURCE_CHARS,
    "filename": MAX_SOURCE_CHARS,
}


def field_text(value: str, what: str, *, required: bool, limit: int | None, question: bool = False) -> str:
    """The one rule for an entry's (or an asked) text, for data files, the API and test sets:
    the length is read on the text as sent (ten megabytes of spaces around one word is not a
    question), then normalised; a question must hold a letter or digit (NULs, zero-width and
    other invisible characters alone carry nothing to match)."""
    if limit is not None and len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {limit}")
    text = normalise_text(value, what, required=required)
    if question and text and not any(c.isalnum() for c in text):
        raise ValueError(f"{what} must contain at least one letter or digit")
    return text


def string_field(record: dict, name: str, *, required: bool) -> str:
    """A string field of a record, normalised: required ones must be non-blank, and an entry's
    fields within FIELD_LIMITS."""
    value = record.get(name)
    if value is None:
        if required:
            raise ValueError(f"missing field '{name}'")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")
    return field_text(
        value, f"field '{name}'", required=required, limit=FIELD_LIMITS.get(name), question=name == "question"
    )


# At most this many alternate wordings an entry (each is a vector searched with every question).
MAX_ALTERNATES = 200
# In a spreadsheet cell, or a plain string, several wordings are separated by this.
WORDING_SEPARATOR = "|"


class TooManyWordings(ValueError):
    """More alternate wordings than an entry may have (MAX_ALTERNATES), counted after merging
    with those it has."""


def wording_key(text: str) -> str:
    """What makes two wordings the same: their words; case, punctuation and spacing do not
    count ("Where do I renew?" and "where do i renew" are one wording)."""
    return " ".join(re.findall(r"\w+", text.casefold())) or text.strip()


def _distinct_texts(value: object, field: str, item: str, *, question: bool, known: str = "") -> list[str]:
    """A record's list field (a list of strings, or one string split on `|`): each text
    normalised (like a question, with `question`), blanks dropped, and each kept once by its
    words (`known`: a text already there, dropped too)."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = list(value.split(WORDING_SEPARATOR))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"field '{field}' must be a list of strings, got {type(value).__name__}")
    seen = {wording_key(known)} if known else set()
    texts: list[str] = []
    for number, raw in enumerate(items, start=1):
        if not isinstance(raw, str):
            raise ValueError(f"{item} {number} must be a string, got {type(raw).__name__}")
        text = field_text(
            raw, f"{item} {number}", required=False, limit=MAX_QUESTION_CHARS, question=question
        )
        if text and wording_key(text) not in seen:
            seen.add(wording_key(text))
            texts.append(text)
    return texts


def normalise_alternates(value: object, question: str = "") -> tuple[str, ...]:
    """An entry's alternate wordings from a record's `alternates` (a list of strings, or one
    string split on `|`): each normalised like a question, blanks dropped, repeats (and the
    entry's own question) kept once, at most MAX_ALTERNATES."""
    wordings = _distinct_texts(value, "alternates", "alternate", question=True, known=question)
    if len(wordings) > MAX_ALTERNATES:
        raise TooManyWordings(f"{len(wordings)} alternate wordings; an entry has at most {MAX_ALTERNATES}")
    return tuple(wordings)


# At most this many follow-ups an entry (buttons under its answer).
MAX_FOLLOW_UPS = 10


def normalise_follow_ups(value: object) -> tuple[str, ...]:
    """An entry's follow-ups from a record's `follow_ups` (a list of strings, or one string split
    on `|`): each another entry's question or id, as given (app.domain.follow_ups resolves them
    against the FAQ); blanks dropped, repeats kept once, at most MAX_FOLLOW_UPS."""
    found = _distinct_texts(value, "follow_ups", "follow-up", question=False)
    if len(found) > MAX_FOLLOW_UPS:
        raise ValueError(f"{len(found)} follow-ups; an entry has at most {MAX_FOLLOW_UPS}")
    return tuple(found)


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ entry. `alternates` are other wordings of its question (what users ask): they
    are searched like the question, but are not part of the entry's content id, so adding a
    wording keeps the entry (and its id) the same entry. `follow_ups` are the entries offered
    after its answer ("what next"): other entries' ids once stored (questions or ids as a file
    gives them, app.domain.follow_ups), not part of the content id either."""

    question: str
    answer: str
    source: str = ""
    filename: str = ""
    alternates: tuple[str, ...] = ()
    follow_ups: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: dict) -> FaqEntry:
        question = string_field(record, "question", required=True)
        return cls(
            question=question,
            answer=string_field(record, "answer", required=True),
            source=string_field(record, "source", required=False),
            filename=string_field(record, "filename", required=False),
            alternates=normalise_alternates(record.get("alternates"), question),
            follow_ups=normalise_follow_ups(record.get("follow_ups")),
        )

    @property
    def wordings(self) -> tuple[str, ...]:
        """The question and its alternate wordings."""
        return (self.question, *self.alternates)

    def with_alternates(self, alternates: Sequence[str]) -> FaqEntry:
        """This entry with `alternates` as its wordings (normalised; the question's own wording
        and repeats dropped)."""
        return replace(self, alternates=normalise_alternates(list(alternates), self.question))

    @property
    def id(self) -> str:
        """The entry's point id in Qdrant (and in the API): uuid5 of its four fields."""
        key = "\x1f".join((self.question, self.answer, self.source, self.filename))
        return str(uuid.uuid5(ENTRY_NAMESPACE, key))

    def to_record(self) -> dict[str, object]:
        """The entry as a data-file record (and as the payload stored with its vectors);
        `alternates` and `follow_ups` only when it has some, so a FAQ without them exports as
        before."""
        record: dict[str, object] = {
            "question": self.question,
            "answer": self.answer,
            "source": self.source,
            "filename": self.filename,
        }
        if self.alternates:
            record["alternates"] = list(self.alternates)
        if self.follow_ups:
            record["follow_ups"] = list(self.follow_ups)
        return record


def count_duplicates(entries: Sequence[FaqEntry]) -> int:
    """Number of entries that repeat an earlier (question, answer) pair exactly."""
    counts = Counter((e.question, e.answer) for e in entries)
    return sum(n - 1 for n in counts.values() if n > 1)


def unique_entries(entries: Sequence[FaqEntry]) -> list[FaqEntry]:
    """One entry per id, first occurrence wins (exact duplicates would share a point)."""
    seen: dict[str, FaqEntry] = {}
    for entry in entries:
        seen.setdefault(entry.id, entry)
    return list(seen.values())
