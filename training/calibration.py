"""The no-answer threshold of a servable, chosen from data when it is trained.

The service declines to answer when the best entry's score is under the threshold. The score
is the dense fused score (weighted sum of cosine similarities): comparable from one question
to the next, which a rank-based score (RRF) is not. Every servable scores differently, so each
gets its own threshold:

1. the whole data file is indexed with the new servable, by the index job, as the service
   will hold it;
2. questions the FAQ cannot answer (`training/data/out_of_domain.jsonl`: the team's own set of
   70 far-off and 49 near-domain questions, distinct from any file the service is judged on)
   are asked through the service's own search, and the threshold is set at the 95th percentile
   of the near-domain questions' best scores (far-off ones score lower still);
3. a sample of val questions is asked too, as a check that the threshold does not decline
   the FAQ's own questions (reported, not tuned on).

Only the data file and what ships in the repository are used, so `faq train --data FILE`
alone produces a calibrated servable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from app.domain.entry import FaqEntry
from app.domain.records import FaqDataset
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.search.settings import SearchSettings
from app.store.client_engine import FaqStore
from app.writes.index_job import index_dataset
from training.evaluate import OutOfDomainQuery, load_out_of_domain

logger = logging.getLogger(__name__)

TEAM_OUT_OF_DOMAIN = Path(__file__).parent / "data" / "out_of_domain.jsonl"
NEAR_QUANTILE = 0.95
VAL_SAMPLE = 300
METHOD = (
    f"{NEAR_QUANTILE:.0%} quantile of the best dense scores of the near-domain questions in "
    "training/data/out_of_domain.jsonl, asked against the whole data file indexed with this servable"
)


@dataclass(frozen=True)
class Calibration:
    threshold: float
    method: str
    near_questions: int
    far_questions: int
    declined_near: float
    declined_far: float
    val_questions: int
    val_declined: float
    seconds: float

    def as_record(self) -> dict:
        return asdict(self)


def best_scores(search: FaqSearch, questions: Sequence[str]) -> np.ndarray:
    """The score of the best entry for each question (0 when nothing is found)."""
    scores = []
    for question in questions:
        hits = search.search(question, top_k=1)
        scores.append(hits[0].score if hits else 0.0)
    return np.array(scores, dtype=np.float64)


def calibrate(
    servable: Servable,
    dataset: FaqDataset,
    val: Sequence[FaqEntry],
    settings: SearchSettings,
    out_of_domain: Sequence[OutOfDomainQuery] | None = None,
) -> Calibration:
    started = time.perf_counter()
    negatives = list(out_of_domain) if out_of_domain is not None else load_out_of_domain(TEAM_OUT_OF_DOMAIN)
    search = FaqSearch(
        servable, FaqStore.in_memory(), "calibration", replace(settings, no_answer_threshold=None)
    )
    try:
        logger.info("calibrating the no-answer threshold: indexing %d entries", len(dataset.entries))
        index_dataset(dataset, search, progress=False)
        near = best_scores(search, [q.query for q in negatives if q.kind == "near"])
        far = best_scores(search, [q.query for q in negatives if q.kind == "far"])
        if not len(near):
            raise ValueError("calibration needs near-domain questions (kind 'near')")
        threshold = float(np.quantile(near, NEAR_QUANTILE))
        step = max(1, len(val) // VAL_SAMPLE)
        own = best_scores(search, [entry.question for entry in list(val)[::step][:VAL_SAMPLE]])
    finally:
        search.store.close()
    result = Calibration(
        threshold=round(threshold, 4),
        method=METHOD,
        near_questions=len(near),
        far_questions=len(far),
        declined_near=float(np.mean(near < threshold)),
        declined_far=float(np.mean(far < threshold)) if len(far) else float("nan"),
        val_questions=len(own),
        val_declined=float(np.mean(own < threshold)) if len(own) else float("nan"),
        seconds=round(time.perf_counter() - started, 1),
    )
    logger.info(
        "no-answer threshold %.3f: declines %.0f%% of near and %.0f%% of far calibration questions, "
        "%.1f%% of val questions",
        result.threshold,
        100 * result.declined_near,
        100 * result.declined_far,
        100 * result.val_declined,
    )
    return result
