"""Loading, validating and splitting FAQ data sets (JSONL, one question/answer pair a line)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("question", "answer")
OPTIONAL_FIELDS = ("source", "filename")

# The public home of the reference data set (see README): fetched only when the user gives
# neither --data nor FAQ_DATA, and always checked against its known checksum.
DATASET_URL = (
    "https://raw.githubusercontent.com/qdrant/dataset-cloud-platform-faq/master/cloud_faq_dataset.jsonl"
)
DATASET_SHA256 = "8cf31dd99e7935ece19cb38c7d2b27ad51ae68d1466a45182b38dc0ef13a008e"
DEFAULT_DOWNLOAD_PATH = Path("var/data/cloud_faq_dataset.jsonl")

# The published reference results use exactly this split; keep it so numbers compare.
VAL_FRACTION = 0.25
SPLIT_SEED = 42


class DataError(ValueError):
    """A data file that cannot be used, with a message that names the file and the problem."""


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str
    source: str = ""
    filename: str = ""

    def to_payload(self) -> dict[str, str]:
        return {
            "question": self.question,
            "answer": self.answer,
            "source": self.source,
            "filename": self.filename,
        }


# Words that name a page's kind rather than its topic ("lambda_faqs" is about lambda).
_PAGE_BOILERPLATE = frozenset({"faq", "faqs", "qa", "docs", "doc", "overview", "introduction"})


def page_context(entry: FaqEntry) -> str:
    """The entry's page as words: its source and filename, e.g. "aws fsx lustre".

    FAQ questions often leave the product implicit ("what is the daily backup retention
    period?") because the page says it; a user's question names it. Prefixing the stored
    question with its page restores that context. Empty when the entry has neither field.
    """
    words: list[str] = []
    for word in re.split(r"[^0-9a-z]+", f"{entry.source} {entry.filename}".lower()):
        if word and word not in _PAGE_BOILERPLATE and word not in words:
            words.append(word)
    return " ".join(words)


def question_text(entry: FaqEntry, with_context: bool) -> str:
    """The text encoded for an entry's question vector."""
    context = page_context(entry) if with_context else ""
    return f"{context}: {entry.question}" if context else entry.question


@dataclass(frozen=True)
class InvalidLine:
    line_number: int
    problem: str


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


def _parse_line(text: str) -> FaqEntry:
    """Turn one JSONL line into an entry, or raise ValueError saying what is wrong."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    values: dict[str, str] = {}
    for name in REQUIRED_FIELDS:
        if name not in record:
            raise ValueError(f"missing field '{name}'")
        value = record[name]
        if not isinstance(value, str):
            raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"field '{name}' is empty")
        values[name] = value
    for name in OPTIONAL_FIELDS:
        value = record.get(name)
        if value is None:
            values[name] = ""
        elif not isinstance(value, str):
            raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")
        else:
            values[name] = value
    return FaqEntry(**values)


def parse_lines(
    lines: Iterable[str], *, origin: str, skip_invalid: bool = False
) -> tuple[list[FaqEntry], list[InvalidLine]]:
    entries: list[FaqEntry] = []
    invalid: list[InvalidLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue  # blank lines (a trailing newline, say) carry no entry
        try:
            entries.append(_parse_line(text))
        except ValueError as exc:
            if not skip_invalid:
                raise DataError(f"{origin}, line {number}: {exc}") from None
            invalid.append(InvalidLine(number, str(exc)))
    return entries, invalid


def count_duplicates(entries: Sequence[FaqEntry]) -> int:
    """Number of entries that repeat an earlier (question, answer) pair exactly."""
    counts = Counter((e.question, e.answer) for e in entries)
    return sum(n - 1 for n in counts.values() if n > 1)


def load_faq(path: str | os.PathLike[str], *, skip_invalid: bool = False) -> FaqDataset:
    """Read a JSONL FAQ file; every problem is reported with the file and line number."""
    file_path = Path(path)
    if not file_path.is_file():
        raise DataError(f"{file_path}: no such file")
    try:
        with file_path.open(encoding="utf-8") as handle:
            return parse_dataset(handle, origin=file_path, skip_invalid=skip_invalid)
    except UnicodeDecodeError as exc:
        raise DataError(f"{file_path}: not UTF-8 text ({exc.reason})") from None


def parse_dataset(lines: Iterable[str], *, origin: Path, skip_invalid: bool = False) -> FaqDataset:
    """JSONL lines (a file, or an upload) as a data set; `origin` names them in messages."""
    entries, invalid = parse_lines(lines, origin=str(origin), skip_invalid=skip_invalid)
    if not entries:
        raise DataError(f"{origin}: no valid FAQ entries")
    dataset = FaqDataset(origin, entries, invalid, count_duplicates(entries))
    for line in invalid:
        logger.warning("%s, line %d skipped: %s", origin, line.line_number, line.problem)
    if dataset.duplicates:
        logger.warning("%s: %d exact duplicate question/answer pairs", origin, dataset.duplicates)
    return dataset


@dataclass(frozen=True)
class Split:
    train: list[FaqEntry]
    val: list[FaqEntry]


def split_entries(entries: Sequence[FaqEntry]) -> Split:
    """The reference split: 25% validation, stratified by source, seed 42, on file order.

    Same call as the published results (scikit-learn's train_test_split), so the real data
    set gives the same 6,373 / 2,125 rows in the same order.
    """
    from sklearn.model_selection import train_test_split

    if len(entries) < 4:
        raise DataError(f"need at least 4 FAQ entries to split into train and val, got {len(entries)}")
    sources = [e.source for e in entries]
    counts = Counter(sources)
    # Stratifying needs every source on both sides; a source with a single entry cannot be,
    # so small or unlabelled data sets fall back to a plain seeded shuffle split.
    n_val = int(-(-len(entries) * VAL_FRACTION // 1))
    stratify = sources if min(counts.values()) >= 2 and n_val >= len(counts) else None
    if stratify is None and len(counts) > 1:
        logger.warning("some sources have too few entries to stratify; splitting without stratification")
    indices = list(range(len(entries)))
    train_idx, val_idx = train_test_split(
        indices, test_size=VAL_FRACTION, stratify=stratify, random_state=SPLIT_SEED
    )
    return Split([entries[i] for i in train_idx], [entries[i] for i in val_idx])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_reference_dataset(target: Path = DEFAULT_DOWNLOAD_PATH, *, timeout: float = 30) -> Path:
    """Fetch the public cloud FAQ data set once, verify its checksum, and return its path."""
    if target.is_file() and _sha256(target) == DATASET_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading the reference FAQ data set from %s", DATASET_URL)
    try:
        with urllib.request.urlopen(DATASET_URL, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(
            f"could not download the FAQ data set from {DATASET_URL} ({exc}); "
            "pass a local JSONL file with --data or set FAQ_DATA"
        ) from None
    if hashlib.sha256(payload).hexdigest() != DATASET_SHA256:
        raise DataError(
            f"the data set downloaded from {DATASET_URL} does not match its known checksum; "
            "pass a local JSONL file with --data or set FAQ_DATA"
        )
    # Write beside the target and rename, so a half-written file is never taken for the data.
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(payload)
    os.replace(tmp.name, target)
    return target


def resolve_data_path(explicit: str | os.PathLike[str] | None) -> Path:
    """--data, else FAQ_DATA, else the downloaded reference data set."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("FAQ_DATA")
    if from_env:
        return Path(from_env)
    return download_reference_dataset()
