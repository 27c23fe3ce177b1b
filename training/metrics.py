"""Retrieval metrics on embeddings: ranks of the right answer, and the in-batch pair metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

RECALL_K = 5


@dataclass(frozen=True)
class RetrievalScores:
    precision_at_1: float
    mrr: float
    recall_at_5: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def ranks_of_targets(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of the best-scored relevant candidate in each row.

    scores: (queries, candidates) similarities, higher is better; relevant: boolean mask of the
    same shape with at least one True a row. Candidates tied with the relevant one count as
    ranked below it, which matches a search engine that returns any one of equal scores first.
    """
    if scores.shape != relevant.shape:
        raise ValueError("scores and relevant must have the same shape")
    if not relevant.any(axis=1).all():
        raise ValueError("every query needs at least one relevant candidate")
    best_relevant = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
    better = ((scores > best_relevant) & ~relevant).sum(axis=1)
    return better + 1


def scores_from_ranks(ranks: np.ndarray, k: int = RECALL_K) -> RetrievalScores:
    ranks = np.asarray(ranks, dtype=np.float64)
    return RetrievalScores(
        precision_at_1=float((ranks == 1).mean()),
        mrr=float((1.0 / ranks).mean()),
        recall_at_5=float((ranks <= k).mean()),
    )


def retrieval_scores(
    queries: np.ndarray,
    candidates: np.ndarray,
    target_ids: np.ndarray,
    candidate_ids: np.ndarray,
    *,
    chunk: int = 1024,
) -> RetrievalScores:
    """Cosine retrieval of each query among all candidates; a hit is any candidate whose id equals
    the query's target id (identical answer texts share an id)."""
    q = normalize(queries.astype(np.float32))
    c = normalize(candidates.astype(np.float32))
    ranks = []
    for start in range(0, len(q), chunk):
        scores = q[start : start + chunk] @ c.T
        relevant = candidate_ids[None, :] == target_ids[start : start + chunk, None]
        ranks.append(ranks_of_targets(scores, relevant))
    return scores_from_ranks(np.concatenate(ranks))


def in_batch_scores(questions: np.ndarray, answers: np.ndarray, batch_size: int = 1024) -> RetrievalScores:
    """The reference tutorial's validation metric (Quaterion's RetrievalPrecision(k=1) and
    RetrievalReciprocalRank on pair batches): in each batch, questions and answers are pooled
    and every object must find its partner among the other 2*B-1 objects. Averaged over all
    objects, as Lightning averages the per-batch values weighted by batch size."""
    if questions.shape != answers.shape:
        raise ValueError("questions and answers must be aligned pairs")
    ranks = []
    for start in range(0, len(questions), batch_size):
        q = questions[start : start + batch_size]
        a = answers[start : start + batch_size]
        pooled = normalize(np.concatenate([q, a]).astype(np.float32))
        n = len(q)
        scores = pooled @ pooled.T
        np.fill_diagonal(scores, -np.inf)  # an object never retrieves itself
        partner = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
        relevant = np.zeros_like(scores, dtype=bool)
        relevant[np.arange(2 * n), partner] = True
        ranks.append(ranks_of_targets(scores, relevant))
    all_ranks = np.concatenate(ranks).astype(np.float64)
    return RetrievalScores(precision_at_1=float((all_ranks == 1).mean()), mrr=float((1.0 / all_ranks).mean()))
