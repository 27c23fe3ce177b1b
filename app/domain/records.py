"""Reading JSONL files of records (one JSON object a line) with errors that name the file, the
line and the problem; the FAQ data set read from them."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from app.domain.entry import DataError, FaqEntry, count_duplicates

logger = logging.getLogger(__name__)

T = TypeVar("T")


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
