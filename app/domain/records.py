"""Records read from data files in any format (`app.domain.formats`) with errors that name the
file, the row or line, and the problem; the FAQ data set read from them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from app.domain.entry import DataError, FaqEntry, count_duplicates
from app.domain.formats import Row, format_of_path, read_rows

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class InvalidRow:
    """A row that was skipped, where it is in its file ("line 3", "row 7") and why."""

    where: str
    problem: str


def records_from_rows(
    rows: Iterable[Row], parse: Callable[[dict], T], *, origin: str, skip_invalid: bool = False
) -> tuple[list[T], list[InvalidRow]]:
    """Each row through `parse`; a bad row raises DataError naming the file and the row, or with
    `skip_invalid` is collected and skipped."""
    items: list[T] = []
    invalid: list[InvalidRow] = []
    for row in rows:
        try:
            if row.problem:
                raise ValueError(row.problem)
            items.append(parse(row.record))
        except ValueError as exc:
            if not skip_invalid:
                raise DataError(f"{origin}, {row.where}: {exc}") from None
            invalid.append(InvalidRow(row.where, str(exc)))
    return items, invalid


def read_file(path: str | os.PathLike[str]) -> bytes:
    """A data file's bytes; a missing one is a DataError."""
    file_path = Path(path)
    if not file_path.is_file():
        raise DataError(f"{file_path}: no such file")
    return file_path.read_bytes()


def read_records(
    path: str | os.PathLike[str], parse: Callable[[dict], T], *, what: str, fmt: str | None = None
) -> list[T]:
    """Every record of a data file in any format (strict: the first bad row stops with where it
    is)."""
    rows = read_rows(read_file(path), format_of_path(path, fmt), str(path))
    items, _ = records_from_rows(rows, parse, origin=str(path))
    if not items:
        raise DataError(f"{path}: no {what}")
    return items


@dataclass
class FaqDataset:
    path: Path
    entries: list[FaqEntry]
    invalid: list[InvalidRow] = field(default_factory=list)
    duplicates: int = 0
    # The spreadsheet's columns that were not read ("column 'Notes' ignored").
    ignored_columns: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        return len(self.entries) + len(self.invalid)

    def summary(self) -> str:
        parts = [f"{len(self.entries)} entries from {self.path}"]
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid rows skipped")
        if self.duplicates:
            parts.append(f"{self.duplicates} exact duplicate pairs")
        parts.extend(self.ignored_columns)
        return ", ".join(parts)


def load_faq(
    path: str | os.PathLike[str], *, skip_invalid: bool = False, fmt: str | None = None
) -> FaqDataset:
    """Read a FAQ file in any format (`fmt`, else by its extension); every problem is reported
    with the file and the row or line."""
    data = read_file(path)
    return parse_dataset(data, origin=Path(path), fmt=format_of_path(path, fmt), skip_invalid=skip_invalid)


def parse_dataset(
    data: bytes | str | Iterable[str], *, origin: Path | str, fmt: str = "jsonl", skip_invalid: bool = False
) -> FaqDataset:
    """A file's content (bytes; or JSONL text or lines) as a data set; `origin` names it in
    messages."""
    if isinstance(data, bytes):
        raw = data
    else:
        raw = (data if isinstance(data, str) else "\n".join(data)).encode("utf-8")
    rows = read_rows(raw, fmt, str(origin))
    entries, invalid = records_from_rows(
        rows, FaqEntry.from_record, origin=str(origin), skip_invalid=skip_invalid
    )
    if not entries:
        raise DataError(f"{origin}: no valid FAQ entries")
    dataset = FaqDataset(Path(origin), entries, invalid, count_duplicates(entries), rows.ignored)
    for row in invalid:
        logger.warning("%s, %s skipped: %s", origin, row.where, row.problem)
    if dataset.duplicates:
        logger.warning("%s: %d exact duplicate question/answer pairs", origin, dataset.duplicates)
    return dataset
