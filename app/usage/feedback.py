"""Users' feedback on answers ("this helped" / "this did not"), kept in a Qdrant collection of
its own beside the FAQ (`<alias>_feedback`), so that every API replica in front of one Qdrant
server writes to and reads from the same place. Each record holds the question's embedding.

Helpful feedback is training data once an owner has accepted it: `pairs()` turns the feedback
whose question was accepted in the review queue (app.usage.review) into (user question, FAQ
answer) pairs in the data-file format, which `faq train --extra-pairs` adds to the training
split. Anyone may post feedback, so unreviewed feedback never reaches training.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.entry import FaqEntry, unique_entries, wording_key
from app.search.entries import FaqEntries
from app.search.faq_search import FaqSearch
from app.store.base import entry_from_payload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feedback:
    id: str
    question: str
    entry_id: str
    helpful: bool
    comment: str
    at: str
    entry: FaqEntry
    # The user picked this entry among the suggestions of an asked-back question.
    picked: bool = False


class FeedbackLog:
    def __init__(self, search: FaqSearch, entries: FaqEntries):
        self.search = search
        self.entries = entries
        self.store = search.store
        self.name = f"{search.alias}_feedback"

    def record(
        self,
        question: str,
        entry_id: str,
        helpful: bool,
        comment: str = "",
        picked: bool = False,
        client: str = "",
    ) -> Feedback:
        """Store one piece of feedback on the answer `entry_id` gave to `question`. The entry's
        text is kept with it: the pair stays usable after the entry is edited or deleted."""
        entry = self.entries.get(entry_id)  # EntryNotFound for an id /ask never returned
        feedback = Feedback(
            id=str(uuid.uuid4()),
            question=question,
            entry_id=entry_id,
            helpful=helpful,
            comment=comment,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            entry=entry,
            picked=picked,
        )
        payload = {
            "question": question,
            "entry_id": entry_id,
            "helpful": helpful,
            "comment": comment,
            "at": feedback.at,
            "entry": feedback.entry.to_record(),
            "picked": picked,
            # who gave it (`client_id`: a hash, not the address), so that labels count per client
            "client": client,
        }
        self.store.add_record(self.name, feedback.id, self.search.embed_question(question), payload)
        logger.info("feedback %s on %s: %s", feedback.id, entry_id, "helpful" if helpful else "not helpful")
        return feedback

    def delete(self, feedback_ids: list[str] | None = None) -> int:
        """Delete the given feedback records (None: every one); how many were deleted. The
        owner's way out of spam or personal data; deleted pairs no longer reach training."""
        existing = [record_id for record_id, _, _ in self.store.records(self.name)]
        wanted = None if feedback_ids is None else set(feedback_ids)
        doomed = existing if wanted is None else [i for i in existing if i in wanted]
        if doomed:
            self.store.delete_points(self.name, doomed)
            logger.info("deleted %d feedback records", len(doomed))
        return len(doomed)

    def all(self) -> list[Feedback]:
        return [
            Feedback(
                id=record_id,
                question=str(payload.get("question", "")),
                entry_id=str(payload.get("entry_id", "")),
                helpful=bool(payload.get("helpful")),
                comment=str(payload.get("comment", "")),
                at=str(payload.get("at", "")),
                entry=entry_from_payload(payload.get("entry")),
                picked=bool(payload.get("picked")),
            )
            for record_id, payload, _ in self.store.records(self.name)
        ]

    def pairs(self, accepted: set[str]) -> list[FaqEntry]:
        """Reviewed helpful feedback as training pairs: the user's question with the answer
        that helped, on that answer's page, when an owner accepted that question (its
        `wording_key` is in `accepted`); each distinct pair once."""
        return unique_entries(
            [
                FaqEntry(
                    question=item.question,
                    answer=item.entry.answer,
                    source=item.entry.source,
                    filename=item.entry.filename,
                )
                for item in self.all()
                if item.helpful and item.entry.answer and wording_key(item.question) in accepted
            ]
        )
