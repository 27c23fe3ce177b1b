"""The decision rule's trade-off curve on one FAQ: what users get (confident right, confident
wrong, right entry shown; unanswerable questions answered) as the rule's targets move.

    python -m experiments.decision_study --data faq.csv [--servable DIR] \\
        --paraphrases wordings.jsonl [more.jsonl] --out-of-domain unanswerable.jsonl

The rule is fitted from the FAQ alone at each point (`epsilon`: the share of wrong answers it
aims at; `near_rate`: the share of near-domain questions, estimated by leaving pages out); the
wordings and unanswerable questions only measure it. Without --servable, the base encoder with
the settings `faq train` gives it. The shipped defaults are the issue's targets (epsilon 0.05,
near_rate 0.10), not values read off this curve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from app.assembly import search_over
from app.domain.ask_sets import load_out_of_domain, load_paraphrases
from app.domain.entry import unique_entries
from app.domain.records import load_faq
from app.search.decision import ANSWERED, CLARIFY, EPSILON, NEAR_RATE, DecisionRule, fit
from app.search.faq_search import SUGGESTIONS, FaqSearch, Hit, Question
from app.store.opening import scratch_store
from experiments.study_inputs import study_parser, study_servable

logger = logging.getLogger(__name__)

EPSILONS = (0.02, 0.05, 0.10, 0.20)
NEAR_RATES = (0.05, 0.10, 0.20, 0.50, 1.0)


@dataclass
class Asked:
    best: float | None
    margin: float
    hits: list[Hit]
    answer: str = ""  # the right answer (wordings only)


def ask_all(search: FaqSearch, queries: list[str]) -> list[tuple[float | None, float, list[Hit]]]:
    results = search.ask_many([Question(q) for q in queries])
    return [
        (r.best_score, r.margin if r.margin is not None else 0.0, r.answers or r.suggestions) for r in results
    ]


def outcome(rule: DecisionRule, asked: list[Asked]) -> dict[str, float]:
    right = wrong = shown = 0
    for item in asked:
        status = rule.status(item.best, item.margin)
        top_right = bool(item.hits) and item.hits[0].answer == item.answer
        if status == ANSWERED:
            right += top_right
            wrong += not top_right
            shown += top_right
        else:  # asked back: the closest entries; declined: only those worth offering
            offered = item.hits[:SUGGESTIONS]
            if status != CLARIFY:
                offered = [h for h in offered if h.score >= rule.related_score]
            shown += any(h.answer == item.answer for h in offered)
    n = max(len(asked), 1)
    return {"R": right / n, "W": wrong / n, "S": shown / n}


def answered_share(rule: DecisionRule, asked: list[Asked]) -> float:
    return (
        float(np.mean([rule.status(a.best, a.margin) == ANSWERED for a in asked])) if asked else float("nan")
    )


def main(argv: list[str] | None = None) -> None:
    parser = study_parser("python -m experiments.decision_study", __doc__ or "")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    entries = unique_entries(load_faq(args.data).entries)
    servable, settings = study_servable(args.servable)
    store = scratch_store()
    search = search_over(servable, store, "study", settings)
    vectors = search.vectors_for(entries)
    # every side the search uses, the lexical one and the wordings too (as the index job makes it)
    collection = store.create_version(
        "study", search.vector_sizes(), settings.sparse_vectors, search.multivector_sizes()
    )
    store.upsert(collection, entries, vectors)
    stored = {k: v for k, v in vectors.items() if isinstance(v, np.ndarray)}
    store.point_alias_to("study", collection)
    fit_input = search.fit_input(entries, stored)
    # Rank once with no rule in force (a rule changes the status, never the ranking).
    store.set_metadata(collection, {"decision": None})
    search.forget_rule()
    wordings = []
    for path in args.paraphrases:
        items = load_paraphrases(path)
        results = ask_all(search, [p.query for p in items])
        wordings.append([Asked(b, m, h, p.answer) for (b, m, h), p in zip(results, items, strict=True)])
    unanswerable = load_out_of_domain(args.out_of_domain)
    by_kind = {}
    for kind in ("near", "far"):
        queries = [q.query for q in unanswerable if q.kind == kind]
        by_kind[kind] = [Asked(b, m, h) for b, m, h in ask_all(search, queries)]
    header = (
        f"{'eps':>5} {'near':>5} {'t':>6} {'m':>6} "
        + " ".join(f"{'R' + str(i):>6} {'W' + str(i):>6} {'S' + str(i):>6}" for i in range(len(wordings)))
        + f" {'nearA':>6} {'farA':>6}"
    )
    print(header)  # noqa: T201 (the study's output)
    for margin_first, epsilon, near_rate in [
        (m, e, r) for m in (True, False) for e in EPSILONS for r in NEAR_RATES
    ]:
        rule = fit(settings, fit_input, epsilon=epsilon, near_rate=near_rate, margin_first=margin_first)
        cells = []
        for asked in wordings:
            o = outcome(rule, asked)
            cells += [f"{o['R']:6.3f}", f"{o['W']:6.3f}", f"{o['S']:6.3f}"]
        shipped = (epsilon, near_rate, margin_first) == (EPSILON, NEAR_RATE, not fit_input.fine_tuned)
        mark = (" <- shipped" if shipped else "") + ("" if margin_first else " (score first)")
        near_answered = answered_share(rule, by_kind["near"])
        far_answered = answered_share(rule, by_kind["far"])
        print(  # noqa: T201
            f"{epsilon:5.2f} {near_rate:5.2f} {rule.answer_score:6.3f} {rule.answer_margin:6.3f} "
            + " ".join(cells)
            + f" {near_answered:6.3f} {far_answered:6.3f}{mark}"
        )
    store.close()


if __name__ == "__main__":
    main()
