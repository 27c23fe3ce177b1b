"""The decision rule learns from the FAQ's own askers: what they did with its answers labels
their questions (app.search.asker_rule says how the labels move the rule).

- a suggestion picked after the service asked back: that entry is the right one for the words
  asked (the review queue offers the wording too, as before);
- "helpful" on an answer: its entry is right; "not helpful": it is wrong;
- a question recorded as missed (asked back or declined) that its asker said nothing about:
  nothing says any entry is right for it, so thresholds that would answer it count it wrong.

Every label is asked again of the FAQ as it is now (its best score, margin and top entry), so
a label stays true to the index after edits. The result is stored with the live version
(metadata `asker_rule`, with the rule it replaced, for "undo") and applies while the FAQ's own
rule is the one it was fitted on (a reindex or a refit of the FAQ's rule starts over from the
new one; the next feedback learns again). Refits run after feedback, at most one at a time and
only once `REFIT_EVERY` new pieces of feedback arrived, on at most `MAX_LABELS` labels and
`MAX_MISSES` missed questions (the newest), so their cost is bounded whatever the traffic.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.entry import wording_key
from app.search.asker_rule import ASKER_RULE, AskerFit, Label, applies, fit_from_labels
from app.search.decision import DecisionRule
from app.search.faq_search import FaqSearch, Question
from app.store.base import CollectionMissing, StoreError
from app.usage.feedback import FeedbackLog
from app.usage.unanswered import UnansweredLog, recent_misses

logger = logging.getLogger(__name__)

REFIT_EVERY = 5  # new pieces of feedback (in this process) before the rule is fitted again
MAX_LABELS = 1000
MAX_MISSES = 1000
DEPTH = 10  # entries searched per label (the margin needs the best one with another answer)


class NothingToUndo(LookupError):
    """The live rule is the FAQ's own: no change from askers to undo."""


@dataclass(frozen=True)
class RuleState:
    """The rule in force, the FAQ's own rule, and the askers' change (None: none applies)."""

    rule: DecisionRule | None
    faq_rule: DecisionRule | None
    asker_rule: dict | None

    def to_record(self) -> dict:
        def numbers(rule: DecisionRule | None) -> dict | None:
            if rule is None:
                return None
            return {
                "answer_score": rule.answer_score,
                "answer_margin": rule.answer_margin,
                "clarify_score": rule.clarify_score,
                "related_score": rule.related_score,
                "entries": rule.entries,
            }

        change = self.asker_rule
        return {
            "rule": numbers(self.rule),
            "faq_rule": numbers(self.faq_rule),
            "from_askers": change,
            "previous": None if change is None else change.get("previous"),
        }


class AskerCalibration:
    def __init__(self, search: FaqSearch, feedback: FeedbackLog, unanswered: UnansweredLog, *, enabled: bool):
        self.search = search
        self.feedback = feedback
        self.unanswered = unanswered
        self.enabled = enabled
        self._lock = threading.Lock()  # one refit at a time
        self._since_refit = 0
        self._count_lock = threading.Lock()

    # ---- reading ----------------------------------------------------------------------------
    def state(self) -> RuleState:
        """What GET /admin/rule shows."""
        rule = self.search.decision_rule()
        faq_rule = self.search.faq_rule()
        change = self._stored() if rule is not None and rule.fitted.get("askers") else None
        return RuleState(rule, faq_rule, change)

    def _stored(self) -> dict | None:
        try:
            value = self.search.store.metadata(self.search.alias).get(ASKER_RULE)
        except (CollectionMissing, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def labels(self, since: str | None = None) -> list[Label]:
        """The askers' labels, newest first (feedback, then missed questions nobody labelled),
        each asked again of the FAQ as it is now; only those given after `since` (ISO time)."""
        items: list[tuple[str, str, str | None, bool | None, str]] = []  # question, client, entry, helpful
        seen: set[tuple[str, str]] = set()
        feedback = sorted(
            (payload for _, payload, _ in self.feedback.store.records(self.feedback.name)),
            key=lambda p: str(p.get("at", "")),
            reverse=True,
        )
        for payload in feedback:
            at = str(payload.get("at", ""))
            if since is not None and at <= since:
                continue
            key = (str(payload.get("client", "")), wording_key(str(payload.get("question", ""))))
            if key in seen:
                continue  # one label for one client's one question: the newest
            seen.add(key)
            question = str(payload.get("question", ""))
            items.append((question, key[0], str(payload.get("entry_id")), bool(payload.get("helpful")), at))
            if len(items) >= MAX_LABELS:
                break
        for payload in recent_misses(self.unanswered, MAX_MISSES):
            at = datetime.fromtimestamp(float(payload.get("asked_at", 0.0)), UTC).isoformat(
                timespec="seconds"
            )
            if since is not None and at <= since:
                continue
            key = (str(payload.get("client", "")), wording_key(str(payload.get("question", ""))))
            if key in seen:
                continue  # its asker said something: the feedback is the label
            seen.add(key)
            items.append((str(payload.get("question", "")), key[0], None, None, at))
        items = [item for item in items if item[0]]
        if not items:
            return []
        results = self.search.search_many([Question(q, top_k=DEPTH) for q, *_ in items])
        labels = []
        for (_, client, entry_id, helpful, _), hits in zip(items, results, strict=True):
            if not hits:
                continue
            others = [h.score for h in hits[1:] if h.answer != hits[0].answer]
            margin = hits[0].score - others[0] if others else 1.0
            if entry_id is None:
                right: bool | None = None  # a miss nobody labelled
            elif helpful:
                right = hits[0].id == entry_id
            elif hits[0].id == entry_id:
                right = False  # "not helpful" on what is still the top answer
            else:
                continue  # "not helpful" on an entry that is no longer the top: says nothing now
            labels.append(Label(hits[0].score, margin, right, client or "unknown"))
        return labels

    # ---- learning ---------------------------------------------------------------------------
    def feedback_arrived(self) -> None:
        """After a piece of feedback (a background task): refit once enough new feedback came."""
        if not self.enabled:
            return
        with self._count_lock:
            self._since_refit += 1
            due = self._since_refit >= REFIT_EVERY
        if due:
            self.refit()

    def refit(self) -> RuleState:
        """Fit the askers' change to the FAQ's own rule now (skipped while another runs)."""
        if not self._lock.acquire(blocking=False):
            return self.state()
        try:
            with self._count_lock:
                self._since_refit = 0
            faq_rule = self.search.faq_rule()
            if faq_rule is None:
                return self.state()
            stored = self._stored() or {}
            since = stored.get("since")
            fit = fit_from_labels(faq_rule, self.labels(since))
            self._save(faq_rule, fit, stored)
            return self.state()
        except StoreError as exc:  # learning is an improvement: answering goes on without it
            logger.warning("could not refit the decision rule from askers: %s", exc)
            return self.state()
        finally:
            self._lock.release()

    def _save(self, faq_rule: DecisionRule, fit: AskerFit, stored: dict) -> None:
        current = stored if applies(stored, faq_rule) else None
        if not fit.moved and current is None:
            logger.info("decision rule from askers: unchanged (%s)", fit.reason)
            return
        record = {
            **fit.to_record(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "base": [faq_rule.answer_score, faq_rule.answer_margin],
            "since": stored.get("since"),
            # what undo restores: the FAQ's own rule (a change is always fitted from it)
            "previous": _numbers(faq_rule.to_record()),
        }
        collection = self.search.store.resolve_alias(self.search.alias)
        if collection is None:
            return
        self.search.store.set_metadata(collection, {ASKER_RULE: record})
        self.search.forget_rule()
        logger.info(
            "decision rule from askers: answer when score >= %.3f and margin >= %.3f "
            "(%d labels, %d clients: %s)",
            fit.answer_score,
            fit.answer_margin,
            fit.labels,
            fit.clients,
            fit.reason,
        )

    def undo(self) -> RuleState:
        """Back to the FAQ's own rule; the labels behind the change are set aside (the rule
        learns again from feedback given after now)."""
        with self._lock:
            stored = self._stored()
            faq_rule = self.search.faq_rule()
            if stored is None or faq_rule is None or not applies(stored, faq_rule):
                raise NothingToUndo("the rule is the FAQ's own: nothing learnt from askers to undo")
            collection = self.search.store.resolve_alias(self.search.alias)
            if collection is None:
                raise NothingToUndo("nothing is indexed")
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self.search.store.set_metadata(collection, {ASKER_RULE: {"since": now, "undone_at": now}})
            self.search.forget_rule()
            logger.info("decision rule from askers undone: the FAQ's own rule is back")
        return self.state()


def _numbers(record: dict) -> dict:
    return {key: record[key] for key in ("answer_score", "answer_margin") if key in record}
