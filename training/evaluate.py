"""`faq evaluate`: the base encoder and a servable side by side on the held-out val split.

Views (each question's right answer is its own entry's answer; identical answer texts count as
the same answer):
- collection: val questions retrieve among the val answers;
- full_index: val questions retrieve among every answer of the data set, as a deployed service;
- in_batch: the reference tutorial's pooled pair metric, batches of 1024 val pairs;
- paraphrase (with --paraphrases): realistic user wordings of val questions, asked exactly as the
  service answers them: every entry of the data set indexed (answer and question vectors) in
  an in-process Qdrant, queried through the service's own answering code with the servable's
  search settings; paraphrase_answers_only is the same against the answer vectors alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.domain.entry import FaqEntry, string_field
from app.domain.records import FaqDataset, load_faq, read_records
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.search.settings import SearchSettings, answer_text
from app.store.client_engine import FaqStore
from app.writes.index_job import index_dataset
from training.metrics import RetrievalScores, in_batch_scores, retrieval_scores, scores_from_ranks
from training.split import split_entries

logger = logging.getLogger(__name__)

NO_ANSWER_VIEW = "out_of_domain"
IN_BATCH_SIZE = 1024
EVAL_ALIAS = "eval"
# Paraphrase queries look this deep; a right answer ranked lower counts as not found (RR 0).
PARAPHRASE_DEPTH = 50


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


def no_answer_scores(
    search: FaqSearch, paraphrases: Sequence[Paraphrase], out_of_domain: Sequence[OutOfDomainQuery]
) -> dict[str, float]:
    """The no-answer decision, asked through the service's own `ask` with its threshold: the
    fraction of out-of-domain questions declined, per kind; for the in-domain paraphrases, the
    fraction answered with the right entry first (a right answer held back counts as a miss)
    and the fraction wrongly declined."""
    result: dict[str, float] = {}
    for kind in OUT_OF_DOMAIN_KINDS:
        queries = [item.query for item in out_of_domain if item.kind == kind]
        if queries:
            result[f"declined_{kind}"] = float(
                np.mean([not search.ask(q, top_k=1).answered for q in queries])
            )
    if paraphrases:
        asked = [(search.ask(item.query, top_k=1), item) for item in paraphrases]
        result["paraphrase_precision_at_1"] = float(
            np.mean([a.answered and a.answers[0].answer == item.answer for a, item in asked])
        )
        result["paraphrase_declined"] = float(np.mean([not a.answered for a, _ in asked]))
    threshold = search.settings.no_answer_threshold
    result["threshold"] = float("nan") if threshold is None else threshold
    return result


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


def evaluate_servable(
    model: Servable,
    eval_set: EvalSet,
    *,
    paraphrases: Sequence[Paraphrase] = (),
    out_of_domain: Sequence[OutOfDomainQuery] = (),
    search: SearchSettings | None = None,
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
        try:
            if paraphrases:
                results["paraphrase"] = paraphrase_scores(served, paraphrases).as_dict()
                answers = replace(served.settings, mode="answer", lexical_weight=0.0)
                answers_only = FaqSearch(model, served.store, served.alias, answers)
                results["paraphrase_answers_only"] = paraphrase_scores(answers_only, paraphrases).as_dict()
            if out_of_domain:
                results[NO_ANSWER_VIEW] = no_answer_scores(served, paraphrases, out_of_domain)
        finally:
            served.store.close()
    logger.info("evaluated %s in %.0f s", model.path, time.perf_counter() - started)
    return results


def index_in_memory(model: Servable, dataset: FaqDataset, settings: SearchSettings | None) -> FaqSearch:
    """The whole data set indexed by the index job itself into an in-process Qdrant, so the
    paraphrase view asks exactly what the service would; the search over it."""
    search = FaqSearch(model, FaqStore.in_memory(), EVAL_ALIAS, settings)
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
    dataset = load_faq(cfg.data, skip_invalid=cfg.skip_invalid)
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
        # Both models search with the servable's settings, so the comparison is like for like;
        # the no-answer threshold is calibrated for the servable's scores, so only it is asked
        # the out-of-domain questions.
        report[name] = evaluate_servable(
            model,
            eval_set,
            paraphrases=paraphrases,
            out_of_domain=out_of_domain if name == "servable" else (),
            search=settings,
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
