"""Calibrating a servable on the FAQ it is trained with: its decision rule (answer, ask back or
decline; `app.search.decision`), fitted to that FAQ alone.

Nothing project-specific goes in: the rule reads the FAQ's own questions (each asked with its
entry left out, and with its page left out) and the small general far-off set that ships with
the project (`app/search/data/far_questions.jsonl`). A team's `faq train --data faq.csv` thus
gets a rule for its own domain, not for the cloud FAQ this project started from. The index job
fits the rule again to whatever FAQ it indexes (and live changes refit it), so the servable's
rule is the fallback for a collection indexed before rules existed.

Questions the FAQ cannot answer (`--out-of-domain`) are a check, not an input: how the fitted
rule treats them is recorded beside it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.assembly import search_over
from app.domain.ask_sets import OutOfDomainQuery
from app.domain.entry import FaqEntry, unique_entries
from app.encoding.servable import Servable
from app.search.decision import ANSWERED, DecisionRule, best_and_margin, dense_scores
from app.search.faq_search import FaqSearch
from app.search.settings import SearchSettings
from app.store.opening import scratch_store

logger = logging.getLogger(__name__)


@dataclass
class Calibration:
    rule: DecisionRule
    seconds: float
    # With --out-of-domain: the share of each kind the rule answers confidently (a check).
    out_of_domain: dict[str, float] = field(default_factory=dict)

    def as_record(self) -> dict:
        return {
            "method": self.rule.fitted.get("method", ""),
            "seconds": self.seconds,
            "out_of_domain_answered": self.out_of_domain,
        }


def calibrate(
    servable: Servable,
    entries: Sequence[FaqEntry],
    settings: SearchSettings,
    out_of_domain: Sequence[OutOfDomainQuery] = (),
    stored: Mapping[str, np.ndarray] | None = None,
) -> Calibration:
    """Fit the decision rule of `servable` searching `entries` with `settings`."""
    started = time.perf_counter()
    unique = unique_entries(entries)
    store = scratch_store()
    try:
        search = search_over(servable, store, "calibration", settings)
        if stored is None:
            stored = {k: v for k, v in search.vectors_for(unique).items() if isinstance(v, np.ndarray)}
        rule = search.fit_rule(unique, stored)
        checked: dict[str, float] = {}
        for kind in ("far", "near"):
            queries = [q.query for q in out_of_domain if q.kind == kind]
            if queries:
                checked[kind] = round(answered_share(search, rule, stored, unique, queries), 4)
    finally:
        store.close()
    result = Calibration(rule=rule, seconds=round(time.perf_counter() - started, 1), out_of_domain=checked)
    if checked:
        logger.info("the rule answers %s of the given unanswerable questions confidently", checked)
    return result


def answered_share(
    search: FaqSearch,
    rule: DecisionRule,
    stored: Mapping[str, np.ndarray],
    entries: Sequence[FaqEntry],
    queries: Sequence[str],
) -> float:
    """The share of `queries` the rule would answer confidently, scored in memory."""
    answer_queries, question_queries = search.query_vectors(queries)
    scores = dense_scores(
        search.settings, answer_queries, question_queries, stored["answer"], stored.get("question")
    )
    keys: dict[str, int] = {}
    answer_ids = np.array([keys.setdefault(e.answer, len(keys)) for e in entries])
    best, margins = best_and_margin(scores, answer_ids)
    return float(
        np.mean([rule.status(float(b), float(m)) == ANSWERED for b, m in zip(best, margins, strict=True)])
    )
