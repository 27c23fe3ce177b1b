"""`faq evaluate`: the base encoder and a servable side by side on the held-out val split.

Views (each question's right answer is its own entry's answer; identical answer texts count as
the same answer):
- collection: val questions retrieve among the val answers;
- full_index: val questions retrieve among every answer of the data set, as a deployed service;
- in_batch: the reference tutorial's pooled pair metric, batches of 1024 val pairs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.data import FaqEntry, load_faq, split_entries
from app.core.servable import Servable
from training.metrics import RetrievalScores, in_batch_scores, retrieval_scores

logger = logging.getLogger(__name__)

VIEWS = ("collection", "full_index", "in_batch")
IN_BATCH_SIZE = 1024


@dataclass
class EvalSet:
    """Val questions and the answer texts to search, with ids so duplicates count as one."""

    val: list[FaqEntry]
    answers: list[str]  # unique answer texts of the whole data set
    val_answer_ids: np.ndarray  # per val entry: index into `answers`

    @classmethod
    def build(cls, entries: Sequence[FaqEntry], val: Sequence[FaqEntry]) -> EvalSet:
        index: dict[str, int] = {}
        for entry in entries:
            index.setdefault(entry.answer, len(index))
        return cls(
            val=list(val),
            answers=list(index),
            val_answer_ids=np.array([index[e.answer] for e in val]),
        )


@dataclass
class EvalConfig:
    data: Path
    servable: Path
    base_model: Path | None = None
    device: str = "auto"
    skip_invalid: bool = False
    batch_size: int = 256


def evaluate_servable(
    model: Servable, eval_set: EvalSet, batch_size: int = 256
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
    logger.info("evaluated %s in %.0f s", model.path, time.perf_counter() - started)
    return results


def evaluate(cfg: EvalConfig) -> dict[str, dict[str, dict[str, float]]]:
    dataset = load_faq(cfg.data, skip_invalid=cfg.skip_invalid)
    split = split_entries(dataset.entries)
    eval_set = EvalSet.build(dataset.entries, split.val)
    logger.info(
        "evaluating on %d val questions, %d distinct answers", len(eval_set.val), len(eval_set.answers)
    )
    servable = Servable.load(cfg.servable, device=cfg.device)
    base_path = cfg.base_model or (Path(servable.meta.base_model) if servable.meta.base_model else None)
    if base_path is not None and not base_path.exists():
        base_path = None  # trained elsewhere: fall back to the packaged base model
    base = Servable.from_base_model(base_path, device=cfg.device)
    report = {}
    for name, model in (("base", base), ("servable", servable)):
        scores = evaluate_servable(model, eval_set, batch_size=cfg.batch_size)
        report[name] = {view: scores[view].as_dict() for view in VIEWS}
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
