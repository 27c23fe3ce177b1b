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

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.answering import answer_question
from app.core.data import DataError, FaqDataset, FaqEntry, load_faq, split_entries
from app.core.servable import Servable
from app.core.store import FaqStore, SearchSettings
from app.indexer import index_dataset
from training.metrics import RetrievalScores, in_batch_scores, retrieval_scores, scores_from_ranks

logger = logging.getLogger(__name__)

VIEWS = ("collection", "full_index", "in_batch")
PARAPHRASE_VIEWS = ("paraphrase", "paraphrase_answers_only")
IN_BATCH_SIZE = 1024
EVAL_ALIAS = "eval"
# Paraphrase queries look this deep; a right answer ranked lower counts as not found (RR 0).
PARAPHRASE_DEPTH = 50


@dataclass(frozen=True)
class Paraphrase:
    query: str
    question: str
    answer: str


def load_paraphrases(path: Path) -> list[Paraphrase]:
    """JSONL lines with `query` (the user's wording) and the `question`/`answer` it must find."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    items = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                items.append(Paraphrase(str(record["query"]), str(record["question"]), str(record["answer"])))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(f"{path}, line {number}: needs query, question and answer ({exc})") from None
    if not items:
        raise DataError(f"{path}: no paraphrases")
    return items


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
            index.setdefault(entry.answer, len(index))
        return cls(
            val=list(val),
            answers=list(index),
            val_answer_ids=np.array([index[e.answer] for e in val]),
            dataset=dataset,
        )


@dataclass
class EvalConfig:
    data: Path
    servable: Path
    paraphrases: Path | None = None
    base_model: Path | None = None
    device: str = "auto"
    skip_invalid: bool = False
    batch_size: int = 256


def evaluate_servable(
    model: Servable,
    eval_set: EvalSet,
    *,
    paraphrases: Sequence[Paraphrase] = (),
    search: SearchSettings | None = None,
    batch_size: int = 256,
) -> dict[str, RetrievalScores]:
    started = time.perf_counter()
    questions = model.encode([e.question for e in eval_set.val], batch_size=batch_size)
    answers = model.encode(eval_set.answers, batch_size=batch_size)
    val_answers = answers[eval_set.val_answer_ids]
    collection_ids = np.unique(eval_set.val_answer_ids)
    results = {
        "collection": retrieval_scores(
            questions, answers[collection_ids], eval_set.val_answer_ids, collection_ids
        ),
        "full_index": retrieval_scores(
            questions, answers, eval_set.val_answer_ids, np.arange(len(eval_set.answers))
        ),
        "in_batch": in_batch_scores(questions, val_answers, batch_size=IN_BATCH_SIZE),
    }
    if paraphrases:
        search = search or model.search_settings
        store = index_in_memory(model, eval_set.dataset, search)
        try:
            results["paraphrase"] = paraphrase_scores(model, store, paraphrases, search)
            results["paraphrase_answers_only"] = paraphrase_scores(
                model, store, paraphrases, replace(search, mode="answer")
            )
        finally:
            store.close()
    logger.info("evaluated %s in %.0f s", model.path, time.perf_counter() - started)
    return results


def index_in_memory(model: Servable, dataset: FaqDataset, search: SearchSettings) -> FaqStore:
    """The whole data set indexed by the index job itself into an in-process Qdrant, so the
    paraphrase view asks exactly what the service would."""
    store = FaqStore.in_memory()
    index_dataset(dataset, model, store, EVAL_ALIAS, progress=False, search=search)
    return store


def paraphrase_scores(
    model: Servable, store: FaqStore, paraphrases: Sequence[Paraphrase], search: SearchSettings
) -> RetrievalScores:
    ranks = []
    for item in paraphrases:
        hits = answer_question(model, store, EVAL_ALIAS, item.query, top_k=PARAPHRASE_DEPTH, search=search)
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
    servable = Servable.load(cfg.servable, device=cfg.device)
    base_path = cfg.base_model or (Path(servable.meta.base_model) if servable.meta.base_model else None)
    if base_path is not None and not base_path.exists():
        base_path = None  # trained elsewhere: fall back to the packaged base model
    base = Servable.from_base_model(base_path, device=cfg.device)
    report = {}
    for name, model in (("base", base), ("servable", servable)):
        # Both models search with the servable's settings, so the comparison is like for like.
        scores = evaluate_servable(
            model,
            eval_set,
            paraphrases=paraphrases,
            search=servable.search_settings,
            batch_size=cfg.batch_size,
        )
        report[name] = {view: result.as_dict() for view, result in scores.items()}
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
