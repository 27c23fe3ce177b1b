"""The FAQ entry: its fields, its id, and the checks a text must pass to be stored."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

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
    text = normalise_text(value, f"field '{name}'", required=required)
    limit = FIELD_LIMITS.get(name)
    if limit is not None and len(text) > limit:
        raise ValueError(f"field '{name}' is {len(text)} characters long; the limit is {limit}")
    return text


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str
    source: str = ""
    filename: str = ""

    @classmethod
    def from_record(cls, record: dict) -> FaqEntry:
        return cls(
            question=string_field(record, "question", required=True),
            answer=string_field(record, "answer", required=True),
            source=string_field(record, "source", required=False),
            filename=string_field(record, "filename", required=False),
        )

    @property
    def id(self) -> str:
        """The entry's point id in Qdrant (and in the API): uuid5 of its four fields."""
        key = "\x1f".join((self.question, self.answer, self.source, self.filename))
        return str(uuid.uuid5(ENTRY_NAMESPACE, key))

    def to_record(self) -> dict[str, str]:
        """The entry as a data-file record (and as the payload stored with its vectors)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "source": self.source,
            "filename": self.filename,
        }


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
