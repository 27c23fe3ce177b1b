import numpy as np
import pytest
import torch

from training.metrics import in_batch_scores, ranks_of_targets, retrieval_scores, scores_from_ranks


def test_ranks_and_scores_on_known_answers():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.7, 0.6, 0.5]])
    relevant = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=bool)
    ranks = ranks_of_targets(scores, relevant)
    assert ranks.tolist() == [1, 3, 3]
    result = scores_from_ranks(ranks, k=2)
    assert result.precision_at_1 == pytest.approx(1 / 3)
    assert result.mrr == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert result.recall_at_5 == pytest.approx(1 / 3)


def test_duplicate_answers_count_as_the_same_answer():
    queries = np.array([[1.0, 0.0]])
    candidates = np.array([[1.0, 0.0], [0.9, 0.1]])
    # candidate 0 carries the same answer id as the target: a hit at rank 1
    hit = retrieval_scores(queries, candidates, np.array([7]), np.array([7, 3]))
    miss = retrieval_scores(queries, candidates, np.array([3]), np.array([7, 3]))
    assert hit.precision_at_1 == 1.0
    assert miss.precision_at_1 == 0.0 and miss.mrr == 0.5


def test_ranks_reject_queries_without_a_relevant_candidate():
    with pytest.raises(ValueError, match="relevant"):
        ranks_of_targets(np.zeros((1, 2)), np.zeros((1, 2), dtype=bool))


def test_in_batch_perfect_and_swapped_pairs():
    q = np.eye(4)[:2]
    a = np.eye(4)[:2] + 0.01
    assert in_batch_scores(q, a).precision_at_1 == 1.0
    swapped = in_batch_scores(q, a[::-1].copy())
    assert swapped.precision_at_1 == 0.0
    assert swapped.recall_at_5 is None


def test_in_batch_matches_quaterion_metrics():
    """Same numbers as Quaterion's own RetrievalPrecision / RetrievalReciprocalRank."""
    from training.compat import import_quaterion

    import_quaterion()  # before anything of quaterion's: it needs the torch patch
    from quaterion.eval.pair import RetrievalPrecision, RetrievalReciprocalRank

    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 16)).astype(np.float32)
    a = (q + rng.normal(scale=1.5, size=q.shape)).astype(np.float32)
    ours = in_batch_scores(q, a, batch_size=50)
    embeddings = torch.from_numpy(np.concatenate([q, a]))
    pairs = torch.LongTensor([[i, i + 50] for i in range(50)])
    labels = torch.ones(50)
    subgroups = torch.arange(50).repeat(2).float()
    precision = RetrievalPrecision(k=1).compute(embeddings, labels, pairs, subgroups)
    rr = RetrievalReciprocalRank().compute(embeddings, labels, pairs, subgroups)
    assert 0.1 < ours.precision_at_1 < 0.9  # a test that discriminates
    assert ours.precision_at_1 == pytest.approx(float(precision), abs=1e-6)
    assert ours.mrr == pytest.approx(float(rr), abs=1e-6)
