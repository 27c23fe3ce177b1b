"""Questions to ask a FAQ with, to measure it: real users' wordings of its entries (each with
the entry's question and answer), and questions it cannot answer (`far`: another topic; `near`:
sounding like the FAQ). Files of JSON lines, read like the FAQ's own (bad rows named)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.domain.entry import string_field
from app.domain.records import read_records


@dataclass(frozen=True)
class Paraphrase:
    """A user's wording (`query`) of an FAQ question, and the entry's question and answer."""

    query: str
    question: str
    answer: str

    @classmethod
    def from_record(cls, record: dict) -> Paraphrase:
        return cls(*(string_field(record, name, required=True) for name in ("query", "question", "answer")))


def load_paraphrases(path: Path) -> list[Paraphrase]:
    return read_records(path, Paraphrase.from_record, what="paraphrases")


OUT_OF_DOMAIN_KINDS = ("far", "near")


@dataclass(frozen=True)
class OutOfDomainQuery:
    """A question the FAQ cannot answer: `far` (another topic) or `near` (sounds like the FAQ)."""

    query: str
    kind: str

    @classmethod
    def from_record(cls, record: dict) -> OutOfDomainQuery:
        kind = string_field(record, "kind", required=True)
        if kind not in OUT_OF_DOMAIN_KINDS:
            raise ValueError(f"field 'kind' must be one of {', '.join(OUT_OF_DOMAIN_KINDS)}, got '{kind}'")
        return cls(string_field(record, "query", required=True), kind)


def load_out_of_domain(path: Path) -> list[OutOfDomainQuery]:
    return read_records(path, OutOfDomainQuery.from_record, what="out-of-domain questions")
