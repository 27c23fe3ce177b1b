"""`faq evaluate`: the base encoder and a servable side by side on the held-out val split.

Views (each question's right answer is its own entry's answer; identical answer texts count as
the same answer):
- collection: val questions retrieve among the val answers;
- full_index: val questions retrieve among every answer of the data set, as a deployed service;
- in_batch: the reference tutorial's pooled pair metric, batches of 1024 val pairs;
- paraphrase (with --paraphrases): realistic user wordings of val questions, asked exactly as the
  service answers them: every entry of the data set indexed (answer and question vectors) in
  an in-process Qdrant, queried through the service's own answering code with the servable's
  search settings; paraphrase_answers_only is the same against the answer vectors alone;
- outcomes (with --paraphrases and/or --out-of-domain): what users get from the service with the
  decision rule fitted to this FAQ: confident right / confident wrong / right entry shown for
  the wordings, confidently answered and asked back for unanswerable questions, per kind;
  decision_rule: that rule's numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.assembly import scratch_search, search_over
from app.domain.ask_sets import (
    OUT_OF_DOMAIN_KINDS,
    OutOfDomainQuery,
    Paraphrase,
    load_out_of_domain,
    load_paraphrases,
)
from app.domain.entry import FaqEntry
from app.domain.records import FaqDataset, load_faq
from app.domain.split import split_entries
from app.encoding.servable import Servable
from app.search.decision import CLARIFY, NO_ANSWER
from app.search.faq_search import FaqSearch
from app.search.settings import BASE_SEARCH, SearchSettings, answer_text
from app.writes.index_job import index_dataset
from training.metrics import RetrievalScores, in_batch_scores, retrieval_scores, scores_from_ranks

logger = logging.getLogger(__name__)

OUTCOMES_VIEW = "outcomes"
RULE_VIEW = "decision_rule"
IN_BATCH_SIZE = 1024
EVAL_ALIAS = "eval"
# Paraphrase queries look this deep; a right answer ranked lower counts as not found (RR 0).
PARAPHRASE_DEPTH = 50


def outcome_scores(
    search: FaqSearch, paraphrases: Sequence[Paraphrase], out_of_domain: Sequence[OutOfDomainQuery]
) -> dict[str, float]:
    """What a user gets, asked through the service's own `ask` with the FAQ's fitted decision
    rule: for real wordings, the share answered confidently and right, confidently and wrong,
    and with the right entry shown at all (the answer, or among the suggestions when asking
    back or declining); for unanswerable questions, the share answered confidently and asked
    back, per kind."""
    result: dict[str, float] = {}
    if paraphrases:
        asked = [(search.ask(item.query, top_k=1), item) for item in paraphrases]
        right = [a.answered and a.answers[0].answer == item.answer for a, item in asked]
        shown = [
            r or any(h.answer == item.answer for h in a.suggestions)
            for r, (a, item) in zip(right, asked, strict=True)
        ]
        result["confident_right"] = float(np.mean(right))
        result["confident_wrong"] = float(
            np.mean([a.answered and not r for (a, _), r in zip(asked, right, strict=True)])
        )
        result["right_shown"] = float(np.mean(shown))
        result["asked_back"] = float(np.mean([a.status == CLARIFY for a, _ in asked]))
        result["declined"] = float(np.mean([a.status == NO_ANSWER for a, _ in asked]))
    for kind in OUT_OF_DOMAIN_KINDS:
        queries = [item.query for item in out_of_domain if item.kind == kind]
        if queries:
            answers = [search.ask(q, top_k=1) for q in queries]
            result[f"{kind}_answered"] = float(np.mean([a.answered for a in answers]))
            result[f"{kind}_asked_back"] = float(np.mean([a.status == CLARIFY for a in answers]))
    return result


def rule_numbers(search: FaqSearch) -> dict[str, float]:
    """The decision rule the index job fitted to the FAQ, as numbers for the report."""
    rule = search.decision_rule()
    if rule is None:
        return {}
    return {
        "answer_score": rule.answer_score,
        "answer_margin": rule.answer_margin,
        "clarify_score": rule.clarify_score,
        "related_score": rule.related_score,
        "encoder_accuracy": float(rule.fitted.get("encoder_accuracy", float("nan"))),
    }


@dataclass
class EvalSet:
    """Val questions and the answer texts to search, with ids so duplicates count as one."""

    val: list[FaqEntry]
    answers: list[str]  # unique answer texts of the whole data set
    val_answer_ids: np.ndarray  # per val entry: index into `answers`
    dataset: FaqDataset  # the whole data set, as the service indexes it

    @classmethod
    def build(cls, dataset: FaqDataset, val: Sequence[FaqEntry]) -> EvalSet:
        index: dict[str, int] = {}
        for entry in dataset.entries:
            index.setdefault(answer_text(entry), len(index))
        return cls(
            val=list(val),
            answers=list(index),
            val_answer_ids=np.array([index[answer_text(e)] for e in val]),
            dataset=dataset,
        )


@dataclass
class EvalConfig:
    data: Path
    servable: Path
    paraphrases: Path | None = None
    out_of_domain: Path | None = None
    base_model: Path | None = None
    device: str = "auto"
    skip_invalid: bool = False
    batch_size: int = 256
    data_format: str | None = None


def evaluate_servable(
    model: Servable,
    eval_set: EvalSet,
    *,
    paraphrases: Sequence[Paraphrase] = (),
    out_of_domain: Sequence[OutOfDomainQuery] = (),
    search: SearchSettings | None = None,
    outcome_search: SearchSettings | None = None,
    batch_size: int = 256,
) -> dict[str, dict[str, float]]:
    started = time.perf_counter()
    questions = model.encode([e.question for e in eval_set.val], batch_size=batch_size)
    answers = model.encode(eval_set.answers, batch_size=batch_size)
    val_answers = answers[eval_set.val_answer_ids]
    collection_ids = np.unique(eval_set.val_answer_ids)
    scores = {
        "collection": retrieval_scores(
            questions, answers[collection_ids], eval_set.val_answer_ids, collection_ids
        ),
        "full_index": retrieval_scores(
            questions, answers, eval_set.val_answer_ids, np.arange(len(eval_set.answers))
        ),
        "in_batch": in_batch_scores(questions, val_answers, batch_size=IN_BATCH_SIZE),
    }
    results = {view: value.as_dict() for view, value in scores.items()}
    if paraphrases or out_of_domain:
        served = index_in_memory(model, eval_set.dataset, search)
        outcome_settings = outcome_search or served.settings
        # The outcomes ask what this model would serve: the same index when the settings agree.
        same = outcome_settings == served.settings
        outcomes = served if same else index_in_memory(model, eval_set.dataset, outcome_settings)
        try:
            if paraphrases:
                results["paraphrase"] = paraphrase_scores(served, paraphrases).as_dict()
                answer_side = replace(served.settings, mode="answer", lexical_weight=0.0)
                answers_only = search_over(model, served.store, served.alias, answer_side)
                results["paraphrase_answers_only"] = paraphrase_scores(answers_only, paraphrases).as_dict()
            results[OUTCOMES_VIEW] = outcome_scores(outcomes, paraphrases, out_of_domain)
            results[RULE_VIEW] = rule_numbers(outcomes)
        finally:
            served.store.close()
            if not same:
                outcomes.store.close()
    logger.info("evaluated %s in %.0f s", model.path, time.perf_counter() - started)
    return results


def index_in_memory(model: Servable, dataset: FaqDataset, settings: SearchSettings | None) -> FaqSearch:
    """The whole data set indexed by the index job itself into an in-process Qdrant, so the
    paraphrase view asks exactly what the service would; the search over it."""
    search = scratch_search(model, settings, EVAL_ALIAS)
    index_dataset(dataset, search, progress=False)
    return search


def paraphrase_scores(search: FaqSearch, paraphrases: Sequence[Paraphrase]) -> RetrievalScores:
    ranks = []
    for item in paraphrases:
        hits = search.search(item.query, top_k=PARAPHRASE_DEPTH)
        rank = next((i for i, hit in enumerate(hits, start=1) if hit.answer == item.answer), np.inf)
        ranks.append(rank)
    return scores_from_ranks(np.array(ranks, dtype=np.float64))


def evaluate(cfg: EvalConfig) -> dict[str, dict[str, dict[str, float]]]:
    dataset = load_faq(cfg.data, skip_invalid=cfg.skip_invalid, fmt=cfg.data_format)
    split = split_entries(dataset.entries)
    eval_set = EvalSet.build(dataset, split.val)
    logger.info(
        "evaluating on %d val questions, %d distinct answers", len(eval_set.val), len(eval_set.answers)
    )
    paraphrases = load_paraphrases(cfg.paraphrases) if cfg.paraphrases else []
    if not paraphrases:
        logger.info("no --paraphrases file given: the paraphrase view is skipped")
    out_of_domain = load_out_of_domain(cfg.out_of_domain) if cfg.out_of_domain else []
    servable = Servable.load(cfg.servable, device=cfg.device)
    base_path = cfg.base_model or (Path(servable.meta.base_model) if servable.meta.base_model else None)
    if base_path is not None and not base_path.exists():
        base_path = None  # trained elsewhere: fall back to the packaged base model
    base = Servable.from_base_model(base_path, device=cfg.device)
    report = {}
    settings = SearchSettings.from_record(servable.meta.search)
    for name, model in (("base", base), ("servable", servable)):
        # The retrieval views search both models with the servable's settings (like for like).
        # The outcomes are what each would serve: the base encoder with the settings `faq
        # train` gives it, each with a decision rule fitted to this FAQ by the index job.
        report[name] = evaluate_servable(
            model,
            eval_set,
            paraphrases=paraphrases,
            out_of_domain=out_of_domain,
            search=settings,
            outcome_search=BASE_SEARCH if name == "base" else settings,
            batch_size=cfg.batch_size,
        )
    return report


def report_rows(report: dict[str, dict[str, dict[str, float]]]) -> list[tuple[str, str, str, str, str]]:
    """Rows (view, metric, base, servable, change) for printing."""
    rows = []
    for view in report["servable"]:
        for metric, value in report["servable"][view].items():
            base_value = report["base"].get(view, {}).get(metric)
            change = "" if base_value is None else f"{value - base_value:+.3f}"
            rows.append(
                (view, metric, "" if base_value is None else f"{base_value:.3f}", f"{value:.3f}", change)
            )
    return rows
