"""The FAQ entry, and reading JSONL files of records (one JSON object a line) with errors that
name the file, the line and the problem."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

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


def string_field(record: dict, name: str, *, required: bool) -> str:
    """A string field of a JSON record: required ones must be non-blank."""
    value = record.get(name)
    if value is None:
        if required:
            raise ValueError(f"missing field '{name}'")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"field '{name}' is empty")
    return check_text(value, f"field '{name}'")


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


@dataclass(frozen=True)
class InvalidLine:
    line_number: int
    problem: str


def load_object(text: str) -> dict:
    """One JSONL line as a JSON object, or ValueError saying what is wrong with it."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return record


def parse_records(
    lines: Iterable[str], parse: Callable[[dict], T], *, origin: str, skip_invalid: bool = False
) -> tuple[list[T], list[InvalidLine]]:
    """Each non-blank line through `parse`; a bad line raises DataError naming it, or with
    `skip_invalid` is collected and skipped."""
    items: list[T] = []
    invalid: list[InvalidLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue  # blank lines (a trailing newline, say) carry no record
        try:
            items.append(parse(load_object(text)))
        except ValueError as exc:
            if not skip_invalid:
                raise DataError(f"{origin}, line {number}: {exc}") from None
            invalid.append(InvalidLine(number, str(exc)))
    return items, invalid


def read_lines(path: str | os.PathLike[str], consume: Callable[[Iterable[str], Path], T]) -> T:
    """`consume(lines, path)` over a UTF-8 text file; a missing or non-UTF-8 file is a DataError."""
    file_path = Path(path)
    if not file_path.is_file():
        raise DataError(f"{file_path}: no such file")
    try:
        with file_path.open(encoding="utf-8") as handle:
            return consume(handle, file_path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{file_path}: not UTF-8 text ({exc.reason})") from None


def read_records(path: str | os.PathLike[str], parse: Callable[[dict], T], *, what: str) -> list[T]:
    """Every record of a JSONL file (strict: the first bad line stops with its number)."""
    items, _ = read_lines(path, lambda lines, origin: parse_records(lines, parse, origin=str(origin)))
    if not items:
        raise DataError(f"{path}: no {what}")
    return items


@dataclass
class FaqDataset:
    path: Path
    entries: list[FaqEntry]
    invalid: list[InvalidLine] = field(default_factory=list)
    duplicates: int = 0

    @property
    def rows_read(self) -> int:
        return len(self.entries) + len(self.invalid)

    def summary(self) -> str:
        parts = [f"{len(self.entries)} entries from {self.path}"]
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid lines skipped")
        if self.duplicates:
            parts.append(f"{self.duplicates} exact duplicate pairs")
        return ", ".join(parts)


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


def load_faq(path: str | os.PathLike[str], *, skip_invalid: bool = False) -> FaqDataset:
    """Read a JSONL FAQ file; every problem is reported with the file and line number."""
    return read_lines(
        path, lambda lines, origin: parse_dataset(lines, origin=origin, skip_invalid=skip_invalid)
    )


def parse_dataset(lines: Iterable[str], *, origin: Path, skip_invalid: bool = False) -> FaqDataset:
    """JSONL lines (a file, or an upload) as a data set; `origin` names them in messages."""
    entries, invalid = parse_records(
        lines, FaqEntry.from_record, origin=str(origin), skip_invalid=skip_invalid
    )
    if not entries:
        raise DataError(f"{origin}: no valid FAQ entries")
    dataset = FaqDataset(origin, entries, invalid, count_duplicates(entries))
    for line in invalid:
        logger.warning("%s, line %d skipped: %s", origin, line.line_number, line.problem)
    if dataset.duplicates:
        logger.warning("%s: %d exact duplicate question/answer pairs", origin, dataset.duplicates)
    return dataset
