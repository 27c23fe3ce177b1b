"""Answer, ask back, or decline: the decision rule, fitted to the FAQ that is served.

A single score threshold cannot separate "the FAQ answers this" from "this is close to the FAQ
but not in it": on a FAQ of one domain, a real user's wording and a near-domain question the FAQ
cannot answer reach the same best scores. What does separate them is the **margin**: how far the
best entry is ahead of the best entry with a *different* answer. A question the FAQ answers
usually has one clear winner; a question it cannot answer has several entries about equally
close. So the rule reads two numbers of a question's results, the best score s1 and the margin:

- answered: s1 >= answer_score and margin >= answer_margin (a confident answer);
- clarify:  otherwise, when s1 >= clarify_score (ask back: "did you mean", the closest entries);
- no_answer: otherwise; only entries scoring >= related_score are offered (often none).

Every number is fitted to the FAQ itself, so it holds for a shop's FAQ as for a library's, with
nothing tuned on the questions it is judged on:

- **Leave-one-out** (LOO): each FAQ question is asked with its own entry (and any entry with the
  same answer) left out. Its best result is, by construction, a wrong entry in the FAQ's own
  domain: the LOO margins are what a wrong top looks like here. `answer_margin` is their
  quantile at level L = 1 - epsilon / (1 - p), where p estimates how often the encoder's top is
  right (FAQ questions matched to their own answers among pools of 64 entries, entries the
  servable was not trained on), so that about epsilon (5%) of real wordings get a confident
  wrong answer: (1 - p) of them have a wrong top, and 1 - L of those pass the margin.
- **Leave-topic-out** (LTO): each question asked with its whole topic left out looks like a
  near-domain question the FAQ cannot answer: same domain, no entry about it. The topics are
  found in the entries themselves (spherical k-means over their stored vectors, topics of about
  4, 8 and 16 entries, several seeds, pooled), so the estimate exists for any layout: a FAQ kept
  as one help page has no pages to leave out, yet its topics are there. When the file has pages
  (categories, headings, source pages), **leave-page-out** gives a second estimate, and the
  less strict of the two is used (both overstate how close real near-domain questions come).
  `answer_score` is the lowest score at which at most `near_rate` of them pass.
- **A general far-off set** (`app/search/data/far_questions.jsonl`, shipped with the project,
  about nothing in particular): `clarify_score` is the lower of its 95th percentile and the LOO
  scores' 5th percentile (a FAQ question of this domain is always at least worth asking back
  about); `related_score`, its 90th percentile, is what no_answer may still offer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np

from app.domain.entry import FaqEntry
from app.search.settings import SearchSettings

logger = logging.getLogger(__name__)

ANSWERED = "answered"
CLARIFY = "clarify"
NO_ANSWER = "no_answer"
STATUSES = (ANSWERED, CLARIFY, NO_ANSWER)

EPSILON = 0.05  # the share of real wordings the rule allows a confident wrong answer
FIT_QUERIES = 1000  # FAQ questions asked when fitting (a seeded sample of a larger FAQ)
POOL = 64  # pool size for the encoder-accuracy estimate
# The share of near-domain questions (estimated by leave-topic-out) the rule may answer.
NEAR_RATE = 0.10
LEVEL_RANGE = (0.5, 0.95)
# Leave-topic-out: topic sizes (entries a topic, roughly) and k-means seeds, pooled. Several
# sizes because a FAQ's topics have no one size; several seeds because one k-means run draws
# its boundaries by chance, and a question on a boundary keeps a close sibling or loses it.
TOPIC_SIZES = (4, 8, 16)
TOPIC_SEEDS = 4
TOPIC_ITERATIONS = 3
# Near-domain and far-off (score, margin) pairs kept with a rule, for refits from askers.
CONSTRAINT_PAIRS = 400
# Pages larger than this share of the FAQ are not left out whole (nothing would remain).
MAX_PAGE_SHARE = 0.5
FAR_QUESTIONS = Path(__file__).parent / "data" / "far_questions.jsonl"


@cache
def far_questions() -> tuple[str, ...]:
    """The project's general far-off questions (written for no FAQ in particular)."""
    with FAR_QUESTIONS.open(encoding="utf-8") as handle:
        return tuple(json.loads(line)["query"] for line in handle if line.strip())


@dataclass(frozen=True)
class DecisionRule:
    answer_score: float
    answer_margin: float
    clarify_score: float
    related_score: float
    entries: int = 0  # how many entries the FAQ had when the rule was fitted
    fitted: dict = field(default_factory=dict, compare=False)  # how: the numbers behind it

    def status(self, best: float | None, margin: float) -> str:
        if best is None:
            return NO_ANSWER
        if best >= self.answer_score and margin >= self.answer_margin:
            return ANSWERED
        return CLARIFY if best >= self.clarify_score else NO_ANSWER

    def to_record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict | None) -> DecisionRule | None:
        """A rule as stored (servable, collection); None for a missing or unreadable one."""
        if not isinstance(record, dict):
            return None
        try:
            return cls(
                answer_score=float(record["answer_score"]),
                answer_margin=float(record["answer_margin"]),
                clarify_score=float(record["clarify_score"]),
                related_score=float(record["related_score"]),
                entries=int(record.get("entries", 0)),
                fitted=dict(record.get("fitted") or {}),
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("ignoring an unreadable decision rule: %r", record)
            return None

    @property
    def wordings(self) -> int:
        """How many alternate wordings the FAQ had when the rule was fitted."""
        return int(self.fitted.get("wordings", 0) or 0)

    def needs_refit(self, entries: int, wordings: int | None = None) -> bool:
        """Whether a FAQ of `entries` entries (and `wordings` alternate wordings, when known)
        has moved far enough from the one this rule was fitted to (5% of the entries, or any
        change to a FAQ of under 20) to fit it again."""
        step = max(1, round(0.05 * self.entries))
        moved = abs(entries - self.entries) >= step
        return moved or (wordings is not None and abs(wordings - self.wordings) >= step)


def dense_scores(
    settings: SearchSettings,
    answer_queries: np.ndarray,
    question_queries: np.ndarray,
    answers: np.ndarray,
    questions: np.ndarray | None,
    wordings: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The (queries x entries) dense scores the search gives, computed in memory: the answer
    side's cosine, fused with the question side's as `settings` say (rrf reads "sum", as the
    search does for its decision). `wordings`: alternate wordings' question-side vectors and
    the entry each belongs to; an entry's question side is then its best wording, as searched."""
    by_answer = answer_queries @ answers.T
    if settings.mode != "fused" or questions is None:
        return by_answer
    by_question = question_queries @ questions.T
    if wordings is not None and len(wordings[0]):
        vectors, owner = wordings
        np.maximum.at(by_question.T, owner, (question_queries @ vectors.T).T)
    if settings.fusion == "max":
        return np.maximum(by_answer, by_question)
    w = settings.question_weight
    return w * by_question + (1 - w) * by_answer


def best_and_margin(scores: np.ndarray, answer_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the best score, and its margin over the best entry with a different answer
    (-inf scores are left-out entries)."""
    order = np.argsort(-scores, axis=1)
    rows = np.arange(len(scores))
    best = scores[rows, order[:, 0]]
    top_answer = answer_ids[order[:, 0]]
    margins = np.empty(len(scores), dtype=np.float64)
    for row in rows:
        others = order[row][answer_ids[order[row]] != top_answer[row]]
        second = scores[row, others[0]] if len(others) else -np.inf
        margins[row] = best[row] - second if np.isfinite(second) else 1.0
    return best, margins


def answer_level(accuracy: float, epsilon: float = EPSILON) -> float:
    """The LOO-margin quantile that lets about `epsilon` of real wordings through wrong."""
    low, high = LEVEL_RANGE
    return float(np.clip(1 - epsilon / max(1 - accuracy, 1e-9), low, high))


@dataclass
class FitInput:
    """What a rule is fitted from: the FAQ's entries with their stored vectors, the FAQ's
    questions and the far-off questions as queries, and the encoder-accuracy estimate."""

    entries: Sequence[FaqEntry]
    answers: np.ndarray  # stored answer vectors (entries x d)
    questions: np.ndarray | None  # stored question vectors, when the search has them
    sample: np.ndarray  # indices of the entries whose questions were asked
    answer_queries: np.ndarray  # those questions, encoded for the answer side
    question_queries: np.ndarray  # ... and for the question side
    far_answer_queries: np.ndarray
    far_question_queries: np.ndarray
    accuracy: float
    accuracy_from: str
    # Whether the encoder was fine-tuned (on this FAQ or another): see `fit`'s margin_first.
    fine_tuned: bool = False
    # The entries' alternate wordings (question-side vectors, and the entry of each): searched
    # like the questions, and, being real users' wordings, asked like them too (in `sample`).
    wordings: tuple[np.ndarray, np.ndarray] | None = None


def fit(
    settings: SearchSettings,
    data: FitInput,
    *,
    epsilon: float = EPSILON,
    near_rate: float = NEAR_RATE,
    margin_first: bool | None = None,
) -> DecisionRule:
    """The decision rule for this FAQ (see the module's docstring); `epsilon` and `near_rate`
    are the shares of wrong answers and of answered near-domain questions it aims at.

    How the near-domain budget is spent (`margin_first`, by default: for an encoder that was not
    fine-tuned): a base sentence encoder scores by topic, so a near-domain question the FAQ
    cannot answer scores as high as a real wording; what tells them apart is that nothing is
    clearly ahead (the margin). A fine-tuned encoder has learnt to score an answer above the
    topic's other answers, so there the best score itself separates. Margin first: the margin
    is raised until at most `near_rate` of leave-topic-out questions clear it, and the score
    only needs to clear `clarify_score`; score first: the margin stays at the wrong-answer
    level and the score is raised. Measured both ways on two FAQs (docs/your-faq.md)."""
    if margin_first is None:
        margin_first = not data.fine_tuned
    n = len(data.entries)
    answer_key: dict[str, int] = {}
    answer_ids = np.array([answer_key.setdefault(e.answer, len(answer_key)) for e in data.entries])

    far = dense_scores(
        settings,
        data.far_answer_queries,
        data.far_question_queries,
        data.answers,
        data.questions,
        data.wordings,
    )
    far_best, far_margin = best_and_margin(far, answer_ids)
    asked = dense_scores(
        settings, data.answer_queries, data.question_queries, data.answers, data.questions, data.wordings
    )
    own_answer = answer_ids[data.sample]
    loo = np.where(answer_ids[None, :] == own_answer[:, None], -np.inf, asked)
    usable = np.isfinite(loo).any(axis=1)
    how: dict = {
        "method": "fitted on the FAQ itself: leave-one-out margins, leave-topic-out scores, "
        "general far-off set",
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "entries": n,
        "questions_asked": int(len(data.sample)),
        "wordings": 0 if data.wordings is None else int(len(data.wordings[1])),
        "far_questions": int(len(far_best)),
        "epsilon": epsilon,
        "near_rate": near_rate,
        "spent_on": "margin" if margin_first else "score",
        "encoder_accuracy": round(data.accuracy, 4),
        "encoder_accuracy_from": data.accuracy_from,
    }
    far_q90, far_q95 = (float(v) for v in np.quantile(far_best, [0.9, 0.95]))
    if usable.sum() < 5:
        # Too few distinct answers to learn what a wrong top looks like: answer only what is
        # clearly closer than anything far-off, and ask back otherwise.
        rule = DecisionRule(
            answer_score=round(float(np.quantile(far_best, 0.99)), 4),
            answer_margin=0.0,
            clarify_score=round(far_q95, 4),
            related_score=round(far_q90, 4),
            entries=n,
            fitted={**how, "note": "too few distinct answers for leave-one-out: far-off set only"},
        )
        logger.info("decision rule (small FAQ): %s", describe(rule))
        return rule
    loo_best, loo_margin = best_and_margin(loo[usable], answer_ids)
    level = answer_level(data.accuracy, epsilon)
    answer_margin = float(np.quantile(loo_margin, level))
    clarify_score = min(far_q95, float(np.quantile(loo_best, 0.05)))

    # Near-domain questions, as estimated twice: with topics found in the entries (always), and
    # with the file's own pages (categories, headings, source pages) when it has some. Both
    # overstate how close a real near-domain question comes (measured on the library and cloud
    # FAQs: real ones score under either estimate), so the less strict of the two is used; a FAQ
    # kept as one page is answered by the topics alone, within 0.02 of its paged layouts.
    estimates = []
    topics = topic_groupings(data.answers, data.questions)
    estimates.append(
        _near_estimate(
            leave_topics_out(asked, answer_ids, own_answer, data.sample, topics),
            answer_margin,
            near_rate,
            margin_first,
            f"leave-topic-out questions ({len(topics)} groupings into topics of about "
            f"{', '.join(map(str, TOPIC_SIZES))} entries)",
        )
    )
    page_key: dict[tuple[str, str], int] = {}
    pages = np.array([page_key.setdefault((e.source, e.filename), len(page_key)) for e in data.entries])
    page_rows = np.bincount(pages)[pages[data.sample]] <= MAX_PAGE_SHARE * n
    if len(page_key) > 1 and page_rows.sum() >= 20:
        by_page = leave_topics_out(
            asked[page_rows], answer_ids, own_answer[page_rows], data.sample[page_rows], [pages]
        )
        estimates.append(
            _near_estimate(by_page, answer_margin, near_rate, margin_first, "leave-page-out questions")
        )
    answer_margin, near_score, near_of, near_pairs = min(estimates, key=lambda e: (e[0], e[1]))
    near_from = (
        f"the lowest score at which at most {near_rate:.0%} of {near_of} pass both the score "
        f"and the margin (the less strict of: {'; '.join(e[2] for e in estimates)})"
    )
    # What a refit from askers' labels must keep (app.search.asker_rule): no more of the far-off
    # set and of the near-domain estimate may pass than under this rule.
    how["constraints"] = {
        "far": _pairs(far_best, far_margin),
        "near": _pairs(*near_pairs),
    }
    how.update(
        {
            "answer_margin_from": f"leave-one-out margins, quantile {level:.3f} "
            "= clip(1 - epsilon / (1 - accuracy))",
            "answer_score_from": near_from,
            "clarify_score_from": "min(far-off best scores q0.95, leave-one-out best scores q0.05)",
            "related_score_from": "far-off best scores q0.90",
            "leave_one_out": _quantiles(loo_best, loo_margin),
            "far_best_q50_q90_q95": [round(float(v), 4) for v in np.quantile(far_best, [0.5, 0.9, 0.95])],
            "near_score": round(near_score, 4),
        }
    )
    rule = DecisionRule(
        answer_score=round(max(near_score, clarify_score), 4),
        answer_margin=round(answer_margin, 4),
        clarify_score=round(clarify_score, 4),
        related_score=round(far_q90, 4),
        entries=n,
        fitted=how,
    )
    logger.info("decision rule: %s", describe(rule))
    return rule


def _pairs(best: np.ndarray, margin: np.ndarray, limit: int = CONSTRAINT_PAIRS) -> list[list[float]]:
    """(score, margin) pairs, rounded, an evenly spaced sample of at most `limit` by score."""
    order = np.argsort(best)
    if len(order) > limit:
        order = order[np.linspace(0, len(order) - 1, limit).round().astype(int)]
    return [[round(float(best[i]), 4), round(float(min(margin[i], 1.0)), 4)] for i in order]


def _near_estimate(
    left_out: tuple[np.ndarray, np.ndarray],
    loo_margin: float,
    near_rate: float,
    margin_first: bool,
    what: str,
) -> tuple[float, float, str, tuple[np.ndarray, np.ndarray]]:
    """(answer margin, answer score, what) from one estimate of near-domain questions' best
    scores and margins: margin first raises the margin until at most `near_rate` of them clear
    it; either way the score is the lowest at which at most `near_rate` pass both."""
    best, margin = left_out
    if margin_first:
        loo_margin = max(loo_margin, float(np.quantile(margin, 1 - near_rate)))
    return loo_margin, lowest_score_passing(best, margin, loo_margin, near_rate), what, left_out


def topic_groupings(answers: np.ndarray, questions: np.ndarray | None) -> list[np.ndarray]:
    """Groupings of the entries into topics, each an array of topic ids (one an entry): spherical
    k-means over the entries' stored vectors (both sides when there are two), for each size in
    TOPIC_SIZES and each of TOPIC_SEEDS seeds. Seeded: the same FAQ always gets the same topics."""
    vectors = answers if questions is None else np.hstack([questions, answers])
    vectors = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    n = len(vectors)
    groupings = []
    for size in TOPIC_SIZES:
        k = int(np.clip(round(n / size), 2, max(n - 1, 2)))
        for seed in range(TOPIC_SEEDS):
            groupings.append(spherical_kmeans(vectors, k, seed))
    return groupings


def spherical_kmeans(
    vectors: np.ndarray, k: int, seed: int, iterations: int = TOPIC_ITERATIONS
) -> np.ndarray:
    """Each unit row's cluster among `k`, by cosine similarity: centres start at `k` distinct
    rows drawn with `seed`; a centre that loses every row stays where it was."""
    rng = np.random.default_rng(seed)
    centres = vectors[rng.choice(len(vectors), size=min(k, len(vectors)), replace=False)]
    for _ in range(iterations):
        assigned = (vectors @ centres.T).argmax(axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, assigned, vectors)
        empty = np.bincount(assigned, minlength=len(centres)) == 0
        sums[empty] = centres[empty]
        centres = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return (vectors @ centres.T).argmax(axis=1)


def leave_topics_out(
    asked: np.ndarray,
    answer_ids: np.ndarray,
    own_answer: np.ndarray,
    sample: np.ndarray,
    groupings: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Best scores and margins of the asked questions with their whole topic (and any entry of
    their own answer) left out, pooled over the groupings."""
    bests, margins = [], []
    for topic in groupings:
        own_topic = topic[sample]
        left = (topic[None, :] == own_topic[:, None]) | (answer_ids[None, :] == own_answer[:, None])
        rows = ~left.all(axis=1)  # a question whose topic is the whole FAQ says nothing
        best, margin = best_and_margin(np.where(left, -np.inf, asked)[rows], answer_ids)
        bests.append(best)
        margins.append(margin)
    return np.concatenate(bests), np.concatenate(margins)


def lowest_score_passing(best: np.ndarray, margin: np.ndarray, min_margin: float, rate: float) -> float:
    """The lowest score t at which at most `rate` of these questions have best >= t and
    margin >= min_margin (questions that fail the margin never pass, whatever t)."""
    candidates = np.sort(best[margin >= min_margin])[::-1]  # the ones t can still let through
    allowed = int(np.floor(rate * len(best)))
    if len(candidates) <= allowed:
        return float(best.min()) if len(best) else 0.0
    # Let the `allowed` highest through: t sits just above the next one.
    return float(np.nextafter(candidates[allowed], np.inf))


def _quantiles(best: np.ndarray, margin: np.ndarray) -> dict[str, list[float]]:
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    return {
        "best_q05_q25_q50_q75_q95": [round(float(v), 4) for v in np.quantile(best, levels)],
        "margin_q05_q25_q50_q75_q95": [round(float(v), 4) for v in np.quantile(margin, levels)],
    }


def describe(rule: DecisionRule) -> str:
    return (
        f"answer when score >= {rule.answer_score:.3f} and margin >= {rule.answer_margin:.3f}; "
        f"ask back when score >= {rule.clarify_score:.3f}; offer entries >= {rule.related_score:.3f} "
        f"({rule.entries} entries)"
    )


def encoder_accuracy(answer_queries: np.ndarray, answers: np.ndarray, rng: np.random.Generator) -> float:
    """How often a FAQ question's answer-side encoding is closest to its own answer among a
    random pool of POOL entries (its own included): the encoder's precision@1, a proxy for how
    often a real wording's top entry is right."""
    n = len(answers)
    if n < 2:
        return 1.0
    order = rng.permutation(n)
    hits = 0
    for start in range(0, n, POOL):
        pool = order[start : start + POOL]
        if len(pool) < 2:
            continue
        scores = answer_queries[pool] @ answers[pool].T
        hits += int((scores.argmax(axis=1) == np.arange(len(pool))).sum())
    counted = n if n % POOL != 1 else n - 1
    return hits / max(counted, 1)
