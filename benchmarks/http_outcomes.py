"""What users of a running service get, measured over HTTP: real wordings of the FAQ's questions
and questions it cannot answer, each asked through `POST /ask` exactly as a client would.

    python -m benchmarks.http_outcomes --url http://127.0.0.1:8000 \\
        --paraphrases wordings.jsonl --out-of-domain unanswerable.jsonl [--json]

Reports, for the wordings ({query, question, answer} records, any data format): the share
answered confidently and right, confidently and wrong, and with the right entry shown at all
(the answer, or among the suggestions when the service asks back or declines); for the
unanswerable questions ({query, kind: far|near}): the share answered confidently, and asked
back, per kind. The same definitions as `faq evaluate`'s outcomes view, which measures them in
memory; this measures the service as deployed (its index, its fitted rule, its settings).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

import httpx

logger = logging.getLogger("benchmarks.http_outcomes")


def ask(client: httpx.Client, question: str) -> dict:
    response = client.post("/ask", json={"question": question, "top_k": 5})
    response.raise_for_status()
    return response.json()


def wording_outcomes(client: httpx.Client, wordings: list) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for item in wordings:
        body = ask(client, item.query)
        answered = body["status"] == "answered"
        right = answered and body["answers"][0]["answer"] == item.answer
        # suggestions carry the entry's question: the right entry is the one whose question it is
        shown = right or any(s["question"] == item.question for s in body["suggestions"])
        counts["confident_right"] += right
        counts["confident_wrong"] += answered and not right
        counts["right_shown"] += shown
        counts["asked_back"] += body["status"] == "clarify"
        counts["declined"] += body["status"] == "no_answer"
    return {
        key: counts[key] / len(wordings)
        for key in ("confident_right", "confident_wrong", "right_shown", "asked_back", "declined")
    }


def unanswerable_outcomes(client: httpx.Client, questions: list) -> dict[str, float]:
    result: dict[str, float] = {}
    for kind in ("far", "near"):
        asked = [ask(client, q.query) for q in questions if q.kind == kind]
        if asked:
            result[f"{kind}_answered"] = sum(b["status"] == "answered" for b in asked) / len(asked)
            result[f"{kind}_asked_back"] = sum(b["status"] == "clarify" for b in asked) / len(asked)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_outcomes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running service")
    parser.add_argument("--paraphrases", type=Path, help="real wordings: {query, question, answer} records")
    parser.add_argument("--out-of-domain", type=Path, help="unanswerable questions: {query, kind: far|near}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.paraphrases is None and args.out_of_domain is None:
        parser.error("give --paraphrases and/or --out-of-domain")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per question
    # The readers of `faq evaluate`: the same formats and the same errors for a bad file.
    from app.domain.entry import DataError
    from training.evaluate import load_out_of_domain, load_paraphrases

    try:
        wordings = load_paraphrases(args.paraphrases) if args.paraphrases else []
        unanswerable = load_out_of_domain(args.out_of_domain) if args.out_of_domain else []
    except DataError as exc:
        parser.error(str(exc))
    report: dict[str, float | int] = {}
    try:
        with httpx.Client(base_url=args.url, timeout=60) as client:
            if wordings:
                report.update(wording_outcomes(client, wordings), wordings=len(wordings))
            if unanswerable:
                report.update(unanswerable_outcomes(client, unanswerable))
    except httpx.HTTPError as exc:
        print(f"cannot ask the service at {args.url}: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if args.json:
        print(json.dumps(report, indent=2))  # noqa: T201 (the benchmark's output)
    else:
        for key, value in report.items():
            line = f"{key:>16}  {value:.3f}" if isinstance(value, float) else f"{key:>16}  {value}"
            print(line)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
