"""Duplicate and conflict warnings: an entry whose wording is very close to another entry's
(probably the same question asked twice, one of them with a stale answer), and two entries
with the same question and different answers. Warnings, not errors: twins such as "how do I
start a VM?" on two products' pages are legitimate, and the owner decides.

The similarity is the question side's cosine (the encoder that compares questions with
questions). DUPLICATE_SIMILARITY was calibrated on two FAQs with the base encoder (docs/operating.md,
"Duplicate warnings"): on the library FAQ no two of its 60 entries come within 0.77 of each
other, and real user wordings of an entry reach 0.92 of its question in none of 120 cases; on
the cloud FAQ 4.0% of the 8,498 entries have another entry at 0.92 or more, mostly the same
question on several products' pages ("How will I be charged?"), which is what a warning is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.domain.entry import FaqEntry, wording_key
from app.search.settings import QUESTION_VECTOR, WORDINGS_VECTOR
from app.store.base import FaqStore, MissingVector

DUPLICATE_SIMILARITY = 0.92
# Other entries named at most in an entry's similar warnings (its closest ones).
NEAREST_WARNED = 3
# Stored questions nearest to an entry's question that are read for a conflict (the same
# question, another answer) whatever their score: the same question on a few pages.
CONFLICT_DEPTH = 10
SIMILAR = "similar"
CONFLICT = "conflict"


@dataclass(frozen=True)
class EntryWarning:
    """Something an owner should look at about an entry (`index`: its place in what was sent
    or read; `where`: its row in a file, when there is one)."""

    index: int
    kind: str  # SIMILAR or CONFLICT
    other_id: str
    other_question: str
    similarity: float
    where: str = ""

    @property
    def message(self) -> str:
        place = f"{self.where}: " if self.where else ""
        if self.kind == CONFLICT:
            return (
                f"{place}the same question as entry {self.other_id} ('{self.other_question}') "
                "with a different answer"
            )
        return (
            f"{place}very close to entry {self.other_id} ('{self.other_question}'): "
            f"similarity {self.similarity:.2f}"
        )

    def to_record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "index": self.index,
            "kind": self.kind,
            "other_id": self.other_id,
            "other_question": self.other_question,
            "similarity": round(self.similarity, 4),
            "message": self.message,
        }
        if self.where:
            record["where"] = self.where
        return record


def _conflict(a: FaqEntry, b: FaqEntry) -> bool:
    return wording_key(a.question) == wording_key(b.question) and a.answer != b.answer


def warnings_among(
    entries: Sequence[FaqEntry],
    wording_vectors: Sequence[np.ndarray],
    ids: Sequence[str],
    where: Sequence[str] | None = None,
    threshold: float = DUPLICATE_SIMILARITY,
) -> list[EntryWarning]:
    """Warnings between the entries themselves (a file, or a batch sent at once): each entry's
    wordings (`wording_vectors[i]`: unit rows, the question first) against every earlier
    entry's; a pair once, on the later entry, naming the earlier (its `ids[j]`), and at most
    the NEAREST_WARNED closest a entry, as against the store: a batch of 2,000 near-identical
    questions gets 2,000 warnings, not two million."""
    if not entries:
        return []
    owner = np.concatenate([np.full(len(v), i) for i, v in enumerate(wording_vectors)])
    matrix = np.concatenate(list(wording_vectors)).astype(np.float32)
    # Each wording's few nearest wordings of earlier entries, in bounded work: rows at a time
    # (a 20,000-wording FAQ never builds a 20,000 x 20,000 matrix) and a fixed number a row.
    per_row = min(len(matrix), 4 * NEAREST_WARNED)
    found: dict[tuple[int, int], float] = {}
    chunk = 2048
    for start in range(0, len(matrix), chunk):
        sims = matrix[start : start + chunk] @ matrix.T
        sims[owner[start : start + chunk, None] <= owner[None, :]] = -1.0  # earlier entries only
        nearest = np.argpartition(-sims, per_row - 1, axis=1)[:, :per_row]
        scores = np.take_along_axis(sims, nearest, axis=1)
        for r, c in zip(*np.nonzero(scores >= threshold), strict=True):
            pair = (int(owner[start + r]), int(owner[nearest[r, c]]))
            found[pair] = max(found.get(pair, -1.0), float(scores[r, c]))
    kept: dict[int, list[tuple[float, int]]] = {}
    for (i, j), similarity in found.items():
        kept.setdefault(i, []).append((similarity, j))
    found = {
        (i, j): similarity
        for i, pairs in kept.items()
        for similarity, j in sorted(pairs, reverse=True)[:NEAREST_WARNED]
    }
    warnings = []
    by_question: dict[str, int] = {}
    for i, entry in enumerate(entries):
        first = by_question.setdefault(wording_key(entry.question), i)
        if first != i and _conflict(entries[first], entry):
            found.pop((i, first), None)
            warnings.append(
                EntryWarning(i, CONFLICT, ids[first], entries[first].question, 1.0, where[i] if where else "")
            )
    for (i, j), similarity in sorted(found.items()):
        if entries[i].answer == entries[j].answer and wording_key(entries[i].question) == wording_key(
            entries[j].question
        ):
            continue  # the same entry twice: reported as an exact duplicate elsewhere
        warnings.append(
            EntryWarning(i, SIMILAR, ids[j], entries[j].question, similarity, where[i] if where else "")
        )
    return sorted(warnings, key=lambda w: (w.index, w.kind))


def warnings_against_store(
    store: FaqStore,
    alias: str,
    entries: Sequence[FaqEntry],
    wording_vectors: Sequence[np.ndarray],
    own_ids: Sequence[str | None],
    threshold: float = DUPLICATE_SIMILARITY,
) -> list[EntryWarning]:
    """Warnings between `entries` (not yet written, or being edited: `own_ids[i]`, never
    warned about itself) and the entries stored under `alias`: the stored questions and
    wordings nearest to each of their wordings, and a stored entry with the same question and
    another answer."""
    queries = [row for vectors in wording_vectors for row in vectors]
    owner = [i for i, vectors in enumerate(wording_vectors) for _ in range(len(vectors))]
    if not queries or store.resolve_alias(alias) is None:
        return []
    # Each entry's question (its first row) is searched deeper than its other wordings: a
    # stored entry with the same question is a conflict at whatever score it comes. With
    # question_context a question is stored with its page's words, so the same question from
    # another page, or sent without a file name, can come well below the threshold (measured:
    # 0.69 to 0.90 for the same question, source given, file name left out).
    first = {n for n in range(len(queries)) if n == 0 or owner[n] != owner[n - 1]}
    scores: dict[tuple[int, str], float] = {}
    same_question: dict[tuple[int, str], float] = {}
    sides: list[tuple[str, list, int]] = [
        (QUESTION_VECTOR, queries, CONFLICT_DEPTH),
        (WORDINGS_VECTOR, [q[None, :] for q in queries], NEAREST_WARNED),
    ]
    for using, vectors, depth in sides:
        try:
            results = store.query_batch(alias, vectors, using, limit=depth, sources=[None] * len(vectors))
        except MissingVector:
            continue  # an answers-only search, or a version from before wordings
        for n, points in enumerate(results):
            i = owner[n]
            deep = n in first and using == QUESTION_VECTOR
            for rank, point in enumerate(points if deep else points[:NEAREST_WARNED]):
                key = (i, point.id)
                if point.id == own_ids[i]:
                    continue
                if rank < NEAREST_WARNED and point.score >= threshold:
                    scores[key] = max(scores.get(key, -1.0), point.score)
                elif deep:
                    same_question[key] = max(same_question.get(key, -1.0), point.score)
    # Each stored entry read once, however many entries name it (at most the whole FAQ, for
    # an import as large).
    stored = store.entries(alias, list({pid for _, pid in (*scores, *same_question)}))
    warnings = []
    conflicts: dict[int, int] = {}
    candidates = sorted(
        [*scores.items(), *((k, s) for k, s in same_question.items() if k not in scores)],
        key=lambda item: (item[0][0], -item[1]),
    )
    for (i, pid), similarity in candidates:
        other = stored.get(pid)
        if other is None:
            continue
        if _conflict(other, entries[i]):
            if conflicts.get(i, 0) >= NEAREST_WARNED:
                continue  # the same question on many pages: the closest few name it
            conflicts[i] = conflicts.get(i, 0) + 1
            warnings.append(EntryWarning(i, CONFLICT, pid, other.question, similarity))
        elif (i, pid) in scores:
            if other.answer == entries[i].answer and other.question == entries[i].question:
                continue  # the very same content: adding it returns that entry's id, no warning
            warnings.append(EntryWarning(i, SIMILAR, pid, other.question, similarity))
    return warnings
