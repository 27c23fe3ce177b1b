"""The decision rule refitted from the FAQ's own askers: questions that real people asked, each
labelled by what they did with the answer (app.usage.calibration reads them).

A label is a question asked of the FAQ as it is now, with its best score, its margin, and
whether its top entry is the right one: right when the asker picked that entry among the
suggestions or said it helped, wrong when the asker picked another entry or said it did not.
The FAQ-fitted rule (app.search.decision) stays the starting point; the labels move its two
thresholds (the score and the margin) only as far as they support:

- wrong answers on the labelled asks stay at most `epsilon` (0.05) under the new thresholds;
- the FAQ's own estimates still bound it: at most 2% of the far-off set and 15% of the
  near-domain estimate pass (or what the FAQ-fitted rule lets through, if more), counted on
  the pairs the FAQ fit keeps (`fitted["constraints"]`);
- an asked question that was missed and that nobody labelled counts as wrong if the new
  thresholds would answer it (nothing says any entry is right for it);
- the thresholds move only when that answers at least `min_gain` more labelled asks right
  (a label or two is noise), and then to the nearest such thresholds;
- labels count per distinct client: at most `per_client` of one client's, at least
  `min_clients` clients before anything moves, and the result is the strictest of the fit
  with every label and the fits without each of the heaviest clients, so one client alone can
  make the rule stricter but never looser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.search.decision import EPSILON, DecisionRule

ASKER_RULE = "asker_rule"  # the live version's metadata key of the askers' change
PER_CLIENT = 20  # labels of one client that count
MIN_CLIENTS = 3  # distinct clients before the labels move anything
MIN_LABELS = 10
HEAVIEST_LEFT_OUT = 5  # clients whose labels are each left out once (robustness)
GRID = 120
# What the labels may spend of the FAQ's own estimates: the far-off set and the near-domain
# estimate may pass up to these shares (or what the FAQ rule already lets through). The near
# estimate overstates how close real near-domain questions come, and the labels stand in for
# what it cannot see; these are the service's targets for both, not values read off a file.
FAR_RATE = 0.02
NEAR_RATE = 0.15  # candidate values per threshold (quantiles of the labels' scores and margins)


@dataclass(frozen=True)
class Label:
    """One labelled ask, as the FAQ answers it now."""

    best: float
    margin: float
    # Whether the top entry is the one the asker wanted; None: asked, not answered, and the asker
    # said nothing (counted as wrong should new thresholds answer it: nothing says it is right).
    right: bool | None
    client: str


@dataclass(frozen=True)
class AskerFit:
    """What the labels gave: the thresholds (the FAQ rule's own when nothing moved) and why."""

    answer_score: float
    answer_margin: float
    labels: int  # labels counted (after the per-client budget)
    clients: int
    moved: bool
    reason: str
    right_before: int = 0  # labelled asks answered right, under the FAQ rule and the new one
    right_after: int = 0
    wrong_after: int = 0

    def to_record(self) -> dict:
        return {
            "answer_score": self.answer_score,
            "answer_margin": self.answer_margin,
            "labels": self.labels,
            "clients": self.clients,
            "moved": self.moved,
            "reason": self.reason,
            "right_before": self.right_before,
            "right_after": self.right_after,
            "wrong_after": self.wrong_after,
        }


def budgeted(labels: Sequence[Label], per_client: int = PER_CLIENT) -> list[Label]:
    """At most `per_client` labels of each client, the first ones given (callers pass them
    newest first)."""
    seen: Counter[str] = Counter()
    kept = []
    for label in labels:
        if seen[label.client] < per_client:
            seen[label.client] += 1
            kept.append(label)
    return kept


def fit_from_labels(
    rule: DecisionRule,
    labels: Sequence[Label],
    *,
    epsilon: float = EPSILON,
    per_client: int = PER_CLIENT,
    min_clients: int = MIN_CLIENTS,
    min_labels: int = MIN_LABELS,
    min_gain: int | None = None,
) -> AskerFit:
    """The thresholds the labels support, starting from the FAQ-fitted `rule` (module doc)."""
    kept = budgeted(labels, per_client)
    clients = Counter(label.client for label in kept)
    base = AskerFit(rule.answer_score, rule.answer_margin, len(kept), len(clients), False, "")
    if len(kept) < min_labels or len(clients) < min_clients:
        return replace(
            base,
            reason=f"too few labels: {len(kept)} from {len(clients)} clients "
            f"(at least {min_labels} from {min_clients} needed)",
        )
    gain = min_gain if min_gain is not None else max(2, int(np.ceil(0.05 * len(kept))))
    limits = _Limits.of(rule)
    fits = [_solve(rule, kept, epsilon, gain, limits)]
    for client, _ in clients.most_common(HEAVIEST_LEFT_OUT):
        others = [label for label in kept if label.client != client]
        if len(others) >= min_labels and len({label.client for label in others}) >= min_clients - 1:
            fits.append(_solve(rule, others, epsilon, gain, limits))
        else:  # without this client too little is left to move on: the FAQ rule's thresholds
            fits.append((rule.answer_score, rule.answer_margin))
    score = max(t for t, _ in fits)
    margin = max(m for _, m in fits)
    best, marg, right = _arrays(kept)
    answered_before = (best >= rule.answer_score) & (marg >= rule.answer_margin)
    before = int((answered_before & right).sum())
    passing = (best >= score) & (marg >= margin)
    after, wrong = int((passing & right).sum()), int((passing & ~right).sum())
    moved = (score, margin) != (rule.answer_score, rule.answer_margin)
    if not moved:
        reason = "the labels support the FAQ's own rule"
    elif after > before:
        reason = f"answers {after - before} more of the labelled asks right"
    else:
        wrong_before = int((answered_before & ~right).sum())
        reason = f"the FAQ's own rule answers {wrong_before} labelled asks wrong: stricter"
    return AskerFit(
        round(score, 4), round(margin, 4), len(kept), len(clients), moved, reason, before, after, wrong
    )


@dataclass(frozen=True)
class _Limits:
    """How much of the FAQ's own far-off and near-domain estimates may pass (no more than under
    the FAQ-fitted rule), with the (score, margin) pairs they are counted on."""

    far: np.ndarray
    near: np.ndarray
    far_rate: float
    near_rate: float

    @classmethod
    def of(cls, rule: DecisionRule) -> _Limits:
        constraints = rule.fitted.get("constraints") or {}
        far = np.asarray(constraints.get("far") or np.zeros((0, 2)), dtype=np.float64).reshape(-1, 2)
        near = np.asarray(constraints.get("near") or np.zeros((0, 2)), dtype=np.float64).reshape(-1, 2)
        return cls(
            far,
            near,
            max(_passing(far, rule.answer_score, rule.answer_margin), FAR_RATE),
            max(_passing(near, rule.answer_score, rule.answer_margin), NEAR_RATE),
        )

    def allow(self, scores: np.ndarray, margins: np.ndarray) -> np.ndarray:
        """(scores x margins) whether those thresholds keep both estimates within their rates."""
        ok = np.ones((len(scores), len(margins)), dtype=bool)
        for pairs, rate in ((self.far, self.far_rate), (self.near, self.near_rate)):
            if len(pairs):
                passing = (pairs[None, None, :, 0] >= scores[:, None, None]) & (
                    pairs[None, None, :, 1] >= margins[None, :, None]
                )
                ok &= passing.mean(axis=2) <= rate + 1e-9
        return ok


def _passing(pairs: np.ndarray, score: float, margin: float) -> float:
    if not len(pairs):
        return 0.0
    return float(((pairs[:, 0] >= score) & (pairs[:, 1] >= margin)).mean())


def _arrays(labels: Sequence[Label]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, margins, and whether each top is right (an unlabelled ask: not right)."""
    return (
        np.array([label.best for label in labels], dtype=np.float64),
        np.array([label.margin for label in labels], dtype=np.float64),
        np.array([label.right is True for label in labels], dtype=bool),
    )


def _solve(
    rule: DecisionRule, labels: Sequence[Label], epsilon: float, gain: int, limits: _Limits
) -> tuple[float, float]:
    """The thresholds for these labels: the FAQ rule's unless others answer `gain` more of them
    right with wrong answers within `epsilon`, or the FAQ rule's exceed `epsilon` (then the
    nearest that do not)."""
    best, margin, right = _arrays(labels)
    levels = np.linspace(0, 1, GRID)
    scores = np.unique(np.concatenate([np.quantile(best, levels), [rule.answer_score]]))
    scores = scores[scores >= rule.clarify_score]
    if not len(scores):
        return rule.answer_score, rule.answer_margin
    margins = np.unique(np.concatenate([np.quantile(margin, levels), [rule.answer_margin, 0.0]]))
    passing = (best[None, None, :] >= scores[:, None, None]) & (
        margin[None, None, :] >= margins[None, :, None]
    )
    rights = (passing & right).sum(axis=2)
    wrongs = (passing & ~right).sum(axis=2)
    feasible = (wrongs <= epsilon * len(labels)) & limits.allow(scores, margins)
    i0 = int(np.searchsorted(scores, rule.answer_score))
    j0 = int(np.searchsorted(margins, rule.answer_margin))
    # The FAQ's own rule stands unless the labels show it wrong more often than epsilon by a
    # label or more (one wrong answer among a dozen labels is not evidence against it).
    base_ok = bool(limits.allow(scores[i0 : i0 + 1], margins[j0 : j0 + 1])[0, 0]) and (
        wrongs[i0, j0] <= np.ceil(epsilon * len(labels))
    )
    if not feasible.any():
        return float(max(scores.max(), rule.answer_score)), float(max(margins.max(), rule.answer_margin))
    top = rights[feasible].max()
    if base_ok and top < rights[i0, j0] + gain:
        return rule.answer_score, rule.answer_margin
    distance = np.abs(scores[:, None] - rule.answer_score) + np.abs(margins[None, :] - rule.answer_margin)
    candidates = np.where(feasible & (rights == top), distance, np.inf)
    i, j = np.unravel_index(int(np.argmin(candidates)), candidates.shape)
    return float(scores[i]), float(margins[j])


def applies(stored: object, faq_rule: DecisionRule) -> bool:
    """Whether a stored change was fitted on this FAQ rule (a refit of the FAQ's rule voids it)."""
    if not isinstance(stored, dict) or "answer_score" not in stored:
        return False
    base = stored.get("base")
    return isinstance(base, list | tuple) and list(base) == [faq_rule.answer_score, faq_rule.answer_margin]


def with_askers(rule: DecisionRule, stored: object) -> DecisionRule:
    """`rule` (the FAQ's own) with the askers' thresholds when `stored` was fitted on it and
    moved them; `fitted["askers"]` then says from how many labels and clients."""
    if not isinstance(stored, dict) or not applies(stored, rule) or not stored.get("moved"):
        return rule
    try:
        score, margin = float(stored["answer_score"]), float(stored["answer_margin"])
    except (KeyError, TypeError, ValueError):
        return rule
    fitted = {**rule.fitted, "askers": {k: stored.get(k) for k in ("labels", "clients", "at", "reason")}}
    return replace(rule, answer_score=score, answer_margin=margin, fitted=fitted)
