"""Answer, ask back or decline: the decision on a question's hits, by the rule in force (the
one stored with the collection version, with what askers taught it; else the servable's; else
its single threshold), or by the caller's own threshold."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from app.domain.entry import wording_key
from app.encoding.servable import Servable
from app.search.answers import Answers, Hit, Question
from app.search.asker_rule import ASKER_RULE, with_askers
from app.search.decision import ANSWERED, CLARIFY, NO_ANSWER, DecisionRule
from app.search.settings import SearchSettings
from app.store.base import CollectionMissing, FaqStore

SUGGESTIONS = 3
# Entries looked at to find the best one with a different answer (the margin).
DECISION_DEPTH = 10
# How long the rule stored with the collection version is trusted before it is read again
# (another process may have reindexed; this process forgets it at once when it does).
RULE_TTL_SECONDS = 5.0


class Decider:
    def __init__(self, store: FaqStore, alias: str, servable: Servable, settings: SearchSettings):
        self.store = store
        self.alias = alias
        self.servable = servable
        self.settings = settings
        self._rule: tuple[float, DecisionRule | None, DecisionRule | None] | None = None
        self._rule_lock = threading.Lock()

    # ---- the rule ---------------------------------------------------------------------------
    def rule(self) -> DecisionRule | None:
        """The rule in force: the FAQ's own, with what its askers taught it."""
        return self._rules()[1]

    def faq_rule(self) -> DecisionRule | None:
        """The rule fitted to the FAQ itself, without what its askers taught it."""
        return self._rules()[0]

    def _rules(self) -> tuple[DecisionRule | None, DecisionRule | None]:
        """(the FAQ's own rule, the rule in force), cached for RULE_TTL_SECONDS."""
        now = time.monotonic()
        with self._rule_lock:
            cached = self._rule
        if cached is not None and now - cached[0] < RULE_TTL_SECONDS:
            return cached[1], cached[2]
        rule = None
        stored: object = None
        try:
            # the version the alias points at, read with it (a switch in between is not an error)
            metadata = self.store.metadata(self.alias)
            rule = DecisionRule.from_record(metadata.get("decision"))
            stored = metadata.get(ASKER_RULE)
        except (CollectionMissing, ValueError):
            pass  # nothing indexed yet, or an unreadable rule: the servable's
        if rule is None:
            rule = DecisionRule.from_record(self.servable.meta.decision)
        in_force = None if rule is None else with_askers(rule, stored)
        with self._rule_lock:
            self._rule = (now, rule, in_force)
        return rule, in_force

    def forget(self) -> None:
        """Read the collection's rule again at the next question (after a switch or a refit)."""
        with self._rule_lock:
            self._rule = None

    # ---- the decision -----------------------------------------------------------------------
    def decide(
        self, question: Question, hits: list[Hit], embedding: np.ndarray, rule: DecisionRule | None
    ) -> Answers:
        best = hits[0].score if hits else None
        margin = _margin(hits)
        threshold: float | None
        if question.score_threshold is not None:  # the caller's threshold overrides the rule
            threshold = question.score_threshold
            if best is not None and best >= question.score_threshold:
                status = ANSWERED
            else:
                status = (
                    CLARIFY
                    if rule is None or (best is not None and best >= rule.clarify_score)
                    else NO_ANSWER
                )
        elif rule is not None:
            threshold = rule.answer_score
            status = rule.status(best, margin if margin is not None else 0.0)
            if status != ANSWERED and hits and _is_wording_of(question.text, hits[0]):
                # One of the FAQ's own questions (or a wording its owner confirmed), word for
                # word: its entry is the answer, even when a twin entry ("start" / "stop a
                # virtual machine") keeps the margin small.
                status = ANSWERED
        else:  # a collection and servable from before decision rules: the single threshold
            threshold = self.settings.no_answer_threshold
            status = ANSWERED if best is not None and (threshold is None or best >= threshold) else CLARIFY
            if best is None:
                status = NO_ANSWER
        if status == ANSWERED:
            # The best entry, and any other that clears the bar on its own.
            floor = threshold if threshold is not None else -np.inf
            answers = [hits[0], *(h for h in hits[1 : question.top_k] if h.score >= floor)]
            return Answers(answers, [], threshold, best, embedding, status, margin)
        if status == CLARIFY:
            return Answers([], hits[:SUGGESTIONS], threshold, best, embedding, status, margin)
        related = rule.related_score if rule is not None else np.inf
        offered = [h for h in hits[:SUGGESTIONS] if h.score >= related]
        return Answers([], offered, threshold, best, embedding, status, margin)


def _is_wording_of(text: str, hit: Hit) -> bool:
    """Whether `text` is the hit's question or one of its wordings, word for word."""
    asked = wording_key(text)
    return any(asked == wording_key(wording) for wording in (hit.question, *hit.alternates))


def _margin(hits: Sequence[Hit]) -> float | None:
    """The best hit's lead over the best hit with a different answer (None: no hits; 1.0 when
    every hit found has the same answer)."""
    if not hits:
        return None
    other = next((h.score for h in hits[1:] if h.answer != hits[0].answer), None)
    return 1.0 if other is None else hits[0].score - other
