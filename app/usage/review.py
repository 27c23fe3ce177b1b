"""The review queue: what users asked that the FAQ did not answer well, in one list for the
owner to act on in one step each.

Three kinds of item, most frequent first:

- `unanswered`: a group of recorded questions the FAQ declined or asked back on
  (app.usage.unanswered, grouped the same way);
- `picked_suggestion`: questions the service asked back on, where the user then picked one of
  the suggestions (recorded as feedback with `picked`), one item an entry picked;
- `not_helpful`: questions whose answer the user said did not help, one item an entry.

Actions: add the item's questions as wordings of an entry (they answer with it at once), create
an entry from the item (its question prefilled), or dismiss it. A question acted on is kept in
`<alias>_reviewed` (by its words, `wording_key`), so it never comes back, whoever asks it again;
and only feedback whose question was accepted that way becomes a training pair
(`FeedbackLog.pairs`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from app.domain.entry import MAX_ALTERNATES, FaqEntry, TooManyWordings, wording_key
from app.search.duplicates import EntryWarning
from app.search.faq_search import FaqSearch, Question
from app.store.base import NO_VECTOR, FaqStore
from app.usage.feedback import FeedbackLog
from app.usage.unanswered import DEFAULT_MIN_SIMILARITY, UnansweredLog, cluster

logger = logging.getLogger(__name__)

UNANSWERED = "unanswered"
PICKED = "picked_suggestion"
NOT_HELPFUL = "not_helpful"
KINDS = (UNANSWERED, PICKED, NOT_HELPFUL)
ADD_WORDING, CREATE_ENTRY, DISMISS = "add_wording", "create_entry", "dismiss"
ACCEPTED = (ADD_WORDING, CREATE_ENTRY)
EXAMPLES = 5
NEAREST = 3
_ITEM_NAMESPACE = uuid.UUID("0d5c3a52-5a8e-4c4e-9a59-2f0b9e1c7a41")


class Added(Protocol):
    @property
    def ids(self) -> list[str]: ...

    @property
    def warnings(self) -> list[EntryWarning]: ...


class EntryChanges(Protocol):
    """The FAQ as the queue reads and changes it (app.writes.live_entries.LiveEntries): the
    queue hands the owner's decisions to the writes, never imports them."""

    search: FaqSearch
    store: FaqStore
    alias: str

    def get(self, entry_id: str) -> FaqEntry: ...

    def questions_of(self, ids: Iterable[str]) -> dict[str, str]: ...

    def add_checked(self, entries: Sequence[FaqEntry]) -> Added: ...

    def add_wordings(self, entry_id: str, wordings: Sequence[str]) -> tuple[FaqEntry, list[EntryWarning]]: ...


class ReviewItemGone(LookupError):
    """No item of that id in the queue (acted on already, or its questions were pruned)."""


class NotInItem(ValueError):
    """Wordings named in an action that are not questions of the item."""


@dataclass
class ReviewItem:
    id: str
    kind: str
    count: int
    examples: list[str]
    nearest: list[dict] = field(default_factory=list)
    # Every distinct question of the item (examples shows the first few), and the entry the
    # feedback was about (feedback kinds).
    questions: list[str] = field(default_factory=list)
    entry_id: str | None = None
    # What the owner most likely wants: "create_entry" for an unanswered question no entry comes
    # close enough to answer (adding it as a wording of the nearest would teach a wrong answer),
    # else "add_wording".
    suggested_action: str = "add_wording"

    def to_record(self) -> dict:
        record = {
            "id": self.id,
            "kind": self.kind,
            "count": self.count,
            "examples": self.examples,
            "nearest": self.nearest,
            "suggested_action": self.suggested_action,
        }
        if self.entry_id is not None:
            record["entry_id"] = self.entry_id
        return record


def _item_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_ITEM_NAMESPACE, f"{kind}\x1f{key}"))


class ReviewQueue:
    def __init__(self, entries: EntryChanges, feedback: FeedbackLog, unanswered: UnansweredLog):
        self.entries = entries
        self.feedback = feedback
        self.unanswered = unanswered
        self.search = entries.search
        self.store = entries.store
        self.name = f"{entries.alias}_reviewed"
        # One action on the queue at a time: two owners pressing "Create an entry" on one item
        # (or one pressing twice) make one entry; the later action finds the item gone (404).
        self._acting = threading.Lock()

    # ---- what was acted on --------------------------------------------------------------------
    def reviewed(self) -> dict[str, str]:
        """Wording key -> the action taken on it."""
        return {
            str(payload.get("key", "")): str(payload.get("action", ""))
            for _, payload, _ in self.store.records(self.name)
        }

    def accepted(self) -> set[str]:
        """The questions (by wording key) an owner accepted: added as wordings or made entries."""
        return {key for key, action in self.reviewed().items() if action in ACCEPTED}

    def _mark(self, questions: Sequence[str], action: str) -> None:
        """Keep the questions acted on, by their words (one write for all of them)."""
        now = time.time()
        marks = {wording_key(q): q for q in questions}
        self.store.add_records(
            self.name,
            [
                (
                    str(uuid.uuid5(_ITEM_NAMESPACE, key)),
                    NO_VECTOR,
                    {"key": key, "action": action, "question": q, "at": now},
                )
                for key, q in marks.items()
            ],
        )

    # ---- the queue ----------------------------------------------------------------------------
    def items(self, *, limit: int = 50, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> list[ReviewItem]:
        """The queue, most frequent first (the first `limit` items, with their nearest entries)."""
        items = self._all_items(min_similarity)[:limit]
        self._add_nearest(items)
        return items

    def _all_items(self, min_similarity: float) -> list[ReviewItem]:
        done = set(self.reviewed())
        items: list[ReviewItem] = []
        taken: set[str] = set()  # questions already in a feedback item
        by_entry: dict[tuple[str, str], list[str]] = defaultdict(list)
        for record in self.feedback.all():
            key = wording_key(record.question)
            if key in done:
                continue
            if record.picked:
                by_entry[(PICKED, record.entry_id)].append(record.question)
            elif not record.helpful:
                by_entry[(NOT_HELPFUL, record.entry_id)].append(record.question)
            else:
                continue
            taken.add(key)
        for (kind, entry_id), questions in by_entry.items():
            distinct = list(dict.fromkeys(questions))
            items.append(
                ReviewItem(
                    id=_item_id(kind, entry_id),
                    kind=kind,
                    count=len(questions),
                    examples=distinct[:EXAMPLES],
                    questions=distinct,
                    entry_id=entry_id,
                )
            )
        skip = done | taken
        records = [
            (record_id, payload, vector)
            for record_id, payload, vector in self.store.records(self.unanswered.name, with_vectors=True)
            if vector is not None and wording_key(str(payload.get("question", ""))) not in skip
        ]
        records.sort(key=lambda item: float(item[1].get("asked_at", 0.0)))
        if records:
            vectors = np.stack([vector for _, _, vector in records])
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            for members in cluster(vectors, min_similarity):
                questions = [str(records[i][1].get("question", "")) for i in members]
                if len(members) > 1:  # most typical first: nearest the group's centre
                    group = vectors[members]
                    questions = [questions[i] for i in np.argsort(-(group @ group.mean(axis=0)))]
                distinct = list(dict.fromkeys(questions))
                items.append(
                    ReviewItem(
                        # the group's first question leads it while the group grows
                        id=_item_id(UNANSWERED, records[members[0]][0]),
                        kind=UNANSWERED,
                        count=len(members),
                        examples=distinct[:EXAMPLES],
                        questions=distinct,
                    )
                )
        items.sort(key=lambda item: (-item.count, KINDS.index(item.kind), item.examples[0]))
        return items

    def _add_nearest(self, items: list[ReviewItem]) -> None:
        """Each item's nearest entries for its first example: one batched search for all."""
        if not items or self.store.resolve_alias(self.entries.alias) is None:
            return
        results = self.search.search_many([Question(item.examples[0], top_k=NEAREST) for item in items])
        rule = self.search.decision_rule()
        for item, hits in zip(items, results, strict=True):
            item.nearest = [{"id": h.id, "question": h.question, "score": round(h.score, 4)} for h in hits]
            far = not hits or (rule is not None and hits[0].score < rule.answer_score)
            if item.kind == "unanswered" and far:
                item.suggested_action = "create_entry"

    def find(self, item_id: str, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> ReviewItem:
        """The item of that id in the queue as grouped with `min_similarity` (the grouping the
        list was read with)."""
        for item in self._all_items(min_similarity):
            if item.id == item_id:
                return item
        raise ReviewItemGone(f"no review item '{item_id}' (acted on already, or no longer recorded)")

    # ---- actions ------------------------------------------------------------------------------
    def add_wording(
        self,
        item_id: str,
        entry_id: str,
        wordings: Sequence[str] | None = None,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> FaqEntry:
        """Add the item's questions (or the given ones of them) as wordings of `entry_id`: they
        answer with it from the next question on. Those questions leave the queue for good.
        An item with more questions than the entry has room for gives its most typical ones
        (the list's order); naming more than fit is refused (TooManyWordings)."""
        with self._acting:
            item = self.find(item_id, min_similarity)
            if wordings is None:
                chosen = self._fitting(entry_id, item.questions)
            else:
                chosen = self._chosen(item, wordings)
            entry, _ = self.entries.add_wordings(entry_id, chosen)
            self._mark(item.questions if wordings is None else chosen, ADD_WORDING)
        logger.info("review item %s: %d wordings added to entry %s", item_id, len(chosen), entry_id)
        return entry

    def create_entry(
        self,
        item_id: str,
        answer: str,
        source: str = "",
        question: str | None = None,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> tuple[str, FaqEntry, list[EntryWarning]]:
        """A new entry answering the item: its question is `question`, else the item's first
        example, and the item's other questions (the most typical MAX_ALTERNATES) are its
        wordings. With it, warnings about entries it is very close to (an existing entry with
        the same question, say), as POST /faq/entries gives them."""
        with self._acting:
            item = self.find(item_id, min_similarity)
            main = question or item.examples[0]
            others = [q for q in item.questions if wording_key(q) != wording_key(main)]
            entry = FaqEntry(question=main, answer=answer, source=source).with_alternates(
                others[:MAX_ALTERNATES]
            )
            written = self.entries.add_checked([entry])
            self._mark(item.questions, CREATE_ENTRY)
        (new_id,) = written.ids
        logger.info("review item %s: entry %s created", item_id, new_id)
        return new_id, self.entries.get(new_id), written.warnings

    def dismiss(self, item_id: str, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> int:
        with self._acting:
            item = self.find(item_id, min_similarity)
            self._mark(item.questions, DISMISS)
        return len(item.questions)

    def _fitting(self, entry_id: str, questions: Sequence[str]) -> list[str]:
        """The first of `questions` that the entry has room for (those it has already cost none)."""
        current = self.entries.get(entry_id)
        known = {wording_key(w) for w in current.wordings}
        fresh = [q for q in questions if wording_key(q) not in known]
        room = MAX_ALTERNATES - len(current.alternates)
        if fresh and room <= 0:
            raise TooManyWordings(
                f"entry {entry_id} has {len(current.alternates)} wordings already; "
                f"an entry has at most {MAX_ALTERNATES}"
            )
        return fresh[:room]

    @staticmethod
    def _chosen(item: ReviewItem, wordings: Sequence[str] | None) -> list[str]:
        if wordings is None:
            return item.questions
        known = {wording_key(q) for q in item.questions}
        strangers = [w for w in wordings if wording_key(w) not in known]
        if strangers:
            raise NotInItem(f"not a question of this item: {strangers[0]!r}")
        return list(wordings)
