"""How the sides' scores combine into one ranking."""

from __future__ import annotations

from collections.abc import Sequence

from app.search.settings import SearchSettings
from app.store.base import ScoredPoint

RRF_K = 60


def fuse(
    by_answer: Sequence[ScoredPoint], by_question: Sequence[ScoredPoint], settings: SearchSettings
) -> list[tuple[str, float]]:
    """Combine answer-side and question-side results into one ranking of (id, score).

    - max: an entry scores its better cosine similarity of the two;
    - sum: question_weight * question score + (1 - question_weight) * answer score; an entry
      missing from one side's candidates gets that side's lowest candidate score (an upper
      bound of its real score there);
    - rrf: reciprocal rank fusion, 1/(60 + rank) summed over both sides. Rank-only: its
      scores are not comparable from one question to the next, so no threshold can read them
      (FaqSearch reads the "sum" score for its no-answer decision then).
    """
    answer_scores = {p.id: p.score for p in by_answer}
    question_scores = {p.id: p.score for p in by_question}
    if not question_scores:
        return [(p.id, p.score) for p in by_answer]
    ids = list(dict.fromkeys([*question_scores, *answer_scores]))
    floor_a = min(answer_scores.values(), default=0.0)
    floor_q = min(question_scores.values(), default=0.0)
    if settings.fusion == "rrf":
        answer_rank = {p.id: rank for rank, p in enumerate(by_answer, start=1)}
        question_rank = {p.id: rank for rank, p in enumerate(by_question, start=1)}
        combined = {
            pid: sum(1.0 / (RRF_K + ranks[pid]) for ranks in (answer_rank, question_rank) if pid in ranks)
            for pid in ids
        }
    elif settings.fusion == "max":
        combined = {
            pid: max(answer_scores.get(pid, floor_a), question_scores.get(pid, floor_q)) for pid in ids
        }
    else:
        w = settings.question_weight
        combined = {
            pid: w * question_scores.get(pid, floor_q) + (1 - w) * answer_scores.get(pid, floor_a)
            for pid in ids
        }
    return sorted(combined.items(), key=lambda item: item[1], reverse=True)


def blend_lexical(
    dense: Sequence[tuple[str, float]], by_lexical: Sequence[ScoredPoint], weight: float
) -> list[tuple[str, float]]:
    """Rank by the dense score plus `weight` times the lexical score, the latter divided by
    the best lexical score of this question (IDF-weighted token matches have no fixed scale).
    An entry found by one side only gets the other side's floor (lowest candidate, or 0)."""
    if not by_lexical or weight <= 0:
        return list(dense)
    dense_scores = dict(dense)
    best = max(p.score for p in by_lexical) or 1.0
    lexical = {p.id: p.score / best for p in by_lexical}
    floor = min(dense_scores.values(), default=0.0)
    ids = list(dict.fromkeys([*dense_scores, *lexical]))
    ranked = {pid: dense_scores.get(pid, floor) + weight * lexical.get(pid, 0.0) for pid in ids}
    return sorted(ranked.items(), key=lambda item: item[1], reverse=True)
