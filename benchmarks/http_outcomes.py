"""What users of a running service get, measured over HTTP: real wordings of the FAQ's questions
and questions it cannot answer, each asked through `POST /ask` exactly as a client would.

    python -m benchmarks.http_outcomes --url http://127.0.0.1:8000 \\
        --paraphrases wordings.jsonl --out-of-domain unanswerable.jsonl [--json]
    python -m benchmarks.http_outcomes ... --simulate-askers other-wordings.jsonl

Reports, for the wordings ({query, question, answer} records, any data format): the share
answered confidently and right, confidently and wrong, and with the right entry shown at all
(the answer, or among the suggestions when the service asks back or declines); for the
unanswerable questions ({query, kind: far|near}): the share answered confidently, and asked
back, per kind. The same definitions as `faq evaluate`'s outcomes view, which measures them in
memory; this measures the service as deployed (its index, its fitted rule, its settings).

Beside the served rule it prints the **hindsight frontier**: the most confident right answers
any pair of thresholds (best score, margin) could give on these very files with confident
wrong <= 0.05, near-domain answered <= 0.15 and far-off answered <= 0.02, read from the scores
and margins the service returns. It is chosen with hindsight (on the files it is judged on),
so it is what the encoder allows, not a rule anyone could ship.

`--simulate-askers FILE` first asks FILE's wordings as users of the page would, each from a
client of its own (a distinct loopback address): a confident right answer is marked helpful, a
wrong one not helpful, and when the service asks back or declines, the right suggestion is
picked if it is shown. Nobody reviews anything. Then the service's rule learns from that
feedback (POST /admin/rule/refit when ADMIN_API_KEY is set; else the service's own refits
after feedback), and --paraphrases is measured: a wording set other than FILE.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

logger = logging.getLogger("benchmarks.http_outcomes")

# The hindsight frontier's budgets (the service's targets).
WRONG_BUDGET = 0.05
NEAR_BUDGET = 0.15
FAR_BUDGET = 0.02
TOP_K = 5


@dataclass(frozen=True)
class Asked:
    """One /ask: its status, whether its top entry is the right one (None: unknown, no entry
    shown), whether the right entry was shown, and the numbers the rule read."""

    status: str
    top_right: bool
    shown: bool
    best: float | None
    margin: float | None


def ask(client: httpx.Client, question: str) -> dict:
    response = client.post("/ask", json={"question": question, "top_k": TOP_K})
    response.raise_for_status()
    return response.json()


def judge(body: dict, expected_question: str | None) -> Asked:
    """An /ask response seen against the right entry's question (None: nothing is right)."""
    answered = body["status"] == "answered"
    shown_entries = body["answers"] if answered else body["suggestions"]
    top_right = bool(shown_entries) and shown_entries[0]["question"] == expected_question
    shown = any(item["question"] == expected_question for item in shown_entries[: 1 if answered else 3])
    return Asked(body["status"], top_right, shown, body.get("best_score"), body.get("margin"))


def wording_outcomes(asked: list[Asked]) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for item in asked:
        answered = item.status == "answered"
        counts["confident_right"] += answered and item.top_right
        counts["confident_wrong"] += answered and not item.top_right
        counts["right_shown"] += item.shown
        counts["asked_back"] += item.status == "clarify"
        counts["declined"] += item.status == "no_answer"
    return {
        key: counts[key] / len(asked)
        for key in ("confident_right", "confident_wrong", "right_shown", "asked_back", "declined")
    }


def unanswerable_outcomes(by_kind: dict[str, list[Asked]]) -> dict[str, float]:
    result: dict[str, float] = {}
    for kind, asked in by_kind.items():
        if asked:
            result[f"{kind}_answered"] = sum(a.status == "answered" for a in asked) / len(asked)
            result[f"{kind}_asked_back"] = sum(a.status == "clarify" for a in asked) / len(asked)
    return result


def _numbers(asked: list[Asked]) -> tuple[np.ndarray, np.ndarray]:
    best = np.array([-np.inf if a.best is None else a.best for a in asked], dtype=np.float64)
    margin = np.array([-np.inf if a.margin is None else a.margin for a in asked], dtype=np.float64)
    return best, margin


def _passing(best: np.ndarray, margin: np.ndarray, scores: np.ndarray, margins: np.ndarray) -> np.ndarray:
    """(scores x margins x questions): whether each question passes each pair of thresholds."""
    return (best[None, None, :] >= scores[:, None, None]) & (margin[None, None, :] >= margins[None, :, None])


def frontier(wordings: list[Asked], by_kind: dict[str, list[Asked]]) -> dict[str, float] | None:
    """The hindsight frontier (module doc): thresholds chosen on these answers themselves."""
    best, margin = _numbers(wordings)
    right = np.array([a.top_right for a in wordings])
    finite = np.isfinite(best) & np.isfinite(margin)
    if not finite.any():
        return None
    scores = np.unique(np.concatenate([best[finite], [np.inf]]))
    margins = np.unique(np.concatenate([margin[finite], [0.0]]))
    passing = (best[None, None, :] >= scores[:, None, None]) & (
        margin[None, None, :] >= margins[None, :, None]
    )
    rights = (passing & right).mean(axis=2)
    ok = (passing & ~right).mean(axis=2) <= WRONG_BUDGET + 1e-9
    for kind, budget in (("near", NEAR_BUDGET), ("far", FAR_BUDGET)):
        if by_kind.get(kind):
            b, m = _numbers(by_kind[kind])
            kind_passing = (b[None, None, :] >= scores[:, None, None]) & (
                m[None, None, :] >= margins[None, :, None]
            )
            ok &= kind_passing.mean(axis=2) <= budget + 1e-9
    values = np.where(ok, rights, -1.0)
    i, j = np.unravel_index(int(np.argmax(values)), values.shape)
    return {
        "frontier_confident_right": float(values[i, j]),
        "frontier_score": float(scores[i]),
        "frontier_margin": float(margins[j]),
    }


def measure(client: httpx.Client, wordings: list, unanswerable: list) -> dict[str, float | int]:
    report: dict[str, float | int] = {}
    asked = [judge(ask(client, w.query), w.question) for w in wordings]
    by_kind = {
        kind: [judge(ask(client, q.query), None) for q in unanswerable if q.kind == kind]
        for kind in ("far", "near")
    }
    if asked:
        report.update(wording_outcomes(asked), wordings=len(asked))
    report.update(unanswerable_outcomes(by_kind))
    if asked:
        report.update(frontier(asked, by_kind) or {})
    return report


def loopback(number: int) -> str:
    """A distinct loopback address for simulated client `number` (127.1.0.1, 127.1.0.2 ...):
    the service counts clients by address, and the whole 127/8 range is this machine."""
    return f"127.1.{number // 250}.{number % 250 + 1}"


def simulate_askers(url: str, wordings: list) -> dict[str, int]:
    """Ask each wording from a client of its own, and give the feedback a user of the page
    would (module doc). Returns what was given."""
    given: Counter[str] = Counter()
    for number, item in enumerate(wordings):
        transport = httpx.HTTPTransport(local_address=loopback(number))
        with httpx.Client(base_url=url, timeout=60, transport=transport) as client:
            body = ask(client, item.query)
            feedback = None
            if body["status"] == "answered":
                top = body["answers"][0]
                feedback = {"entry_id": top["id"], "helpful": top["question"] == item.question}
                given["helpful" if feedback["helpful"] else "not_helpful"] += 1
            else:
                right = next((s for s in body["suggestions"] if s["question"] == item.question), None)
                if right is not None:
                    feedback = {"entry_id": right["id"], "helpful": True, "picked": True}
                    given["picked"] += 1
                else:
                    given["nothing"] += 1
            if feedback is not None:
                response = client.post("/feedback", json={"question": item.query, **feedback})
                response.raise_for_status()
    return dict(given)


def learn(url: str, api_key: str | None, settle_s: float) -> dict | None:
    """Let the service's rule learn from the feedback: refit now with the admin key, else wait
    for the service's own refits."""
    if not api_key:
        time.sleep(settle_s)
        return None
    with httpx.Client(base_url=url, timeout=600, headers={"X-API-Key": api_key}) as client:
        response = client.post("/admin/rule/refit")
        response.raise_for_status()
        return response.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_outcomes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running service")
    parser.add_argument("--paraphrases", type=Path, help="real wordings: {query, question, answer} records")
    parser.add_argument("--out-of-domain", type=Path, help="unanswerable questions: {query, kind: far|near}")
    parser.add_argument(
        "--simulate-askers",
        type=Path,
        metavar="FILE",
        help="first ask these wordings as users would (feedback, picks), then measure --paraphrases",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds to wait for the service to learn without an admin key",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.paraphrases is None and args.out_of_domain is None:
        parser.error("give --paraphrases and/or --out-of-domain")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per question
    # The readers of `faq evaluate`: the same formats and the same errors for a bad file.
    from app.domain.ask_sets import load_out_of_domain, load_paraphrases
    from app.domain.entry import DataError

    try:
        wordings = load_paraphrases(args.paraphrases) if args.paraphrases else []
        unanswerable = load_out_of_domain(args.out_of_domain) if args.out_of_domain else []
        askers = load_paraphrases(args.simulate_askers) if args.simulate_askers else []
    except DataError as exc:
        parser.error(str(exc))
    report: dict = {}
    try:
        with httpx.Client(base_url=args.url, timeout=60) as client:
            if askers:
                report["before"] = measure(client, wordings, unanswerable)
                report["askers"] = simulate_askers(args.url, askers)
                rule = learn(args.url, os.environ.get("ADMIN_API_KEY"), args.settle)
                if rule is not None:
                    report["rule"] = rule
                report["after"] = measure(client, wordings, unanswerable)
            else:
                report = measure(client, wordings, unanswerable)
    except httpx.HTTPError as exc:
        print(f"cannot ask the service at {args.url}: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if args.json:
        print(json.dumps(report, indent=2))  # noqa: T201 (the benchmark's output)
    else:
        _print(report)
    return 0


def _print(report: dict, indent: str = "") -> None:
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")  # noqa: T201 (the benchmark's output)
            _print(value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:>24}  {value:.3f}")  # noqa: T201
        else:
            print(f"{indent}{key:>24}  {value}")  # noqa: T201


if __name__ == "__main__":
    raise SystemExit(main())
