"""The FAQ learning its users' words, measured over HTTP against a running service: users ask
real wordings; what the service did not answer confidently and right reaches the review queue
(unanswered, a picked suggestion, or "not helpful"); the owner adds each such wording to its
entry with one review action; then every wording is asked again, and a second set of different
wordings of the same entries (held out: never reviewed) measures whether the FAQ generalised.

    ADMIN_API_KEY=... python -m benchmarks.review_loop --url http://127.0.0.1:8000 \\
        --paraphrases wordings.jsonl --held-out other-wordings.jsonl [--out-of-domain q.jsonl] [--json]

The service should let one client write as a whole user base does: start it with
FAQ_FEEDBACK_PER_MINUTE and FAQ_RECORDS_PER_MINUTE of at least the number of wordings (all
the questions here come from one address). The simulated user, like the page: when asked back,
picks the right suggestion if it is shown (POST /feedback with `picked`); when answered
wrongly, says "not helpful"; otherwise the question was recorded as unanswered.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import httpx

from app.domain.entry import wording_key
from benchmarks.http_outcomes import ask, measure

logger = logging.getLogger("benchmarks.review_loop")
QUEUE = {"limit": 1000, "min_similarity": 0.95}


def entry_ids(client: httpx.Client, headers: dict) -> dict[str, str]:
    """FAQ question -> entry id, for every live entry."""
    ids: dict[str, str] = {}
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/faq/entries", params=params, headers=headers).raise_for_status().json()
        ids.update({e["question"]: e["id"] for e in page["entries"]})
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def act_as_users(client: httpx.Client, wordings: list, ids: dict[str, str]) -> dict[str, int]:
    """Ask each wording; give the feedback a user would where the answer was not right."""
    counts = {"right": 0, "picked": 0, "not_helpful": 0, "unanswered": 0}
    for item in wordings:
        body = ask(client, item.query)
        right_id = ids[item.question]
        if body["status"] == "answered":
            if body["answers"][0]["id"] == right_id:
                counts["right"] += 1
                continue
            feedback = {"question": item.query, "entry_id": body["answers"][0]["id"], "helpful": False}
            counts["not_helpful"] += 1
        elif body["status"] == "clarify" and any(s["id"] == right_id for s in body["suggestions"]):
            feedback = {"question": item.query, "entry_id": right_id, "helpful": True, "picked": True}
            counts["picked"] += 1
        else:
            counts["unanswered"] += 1  # recorded by the service itself
            continue
        client.post("/feedback", json=feedback).raise_for_status()
    return counts


def review(client: httpx.Client, wordings: list, ids: dict[str, str], headers: dict) -> dict[str, int]:
    """The owner's work: each wording in the queue added to its right entry, one action each."""
    wanted = {wording_key(item.query): item for item in wordings}
    actions = missing = 0
    while True:
        # A strict grouping: each wording its own item (the owner reads them one by one).
        items = client.get("/admin/review", params=QUEUE, headers=headers).raise_for_status().json()
        target = None
        for entry in items["items"]:
            for example in entry["examples"]:
                if wording_key(example) in wanted:
                    target = (entry, example)
                    break
            if target:
                break
        if target is None:
            missing = len(wanted)
            break
        item, example = target
        right = wanted.pop(wording_key(example))
        body = {"action": "add_wording", "entry_id": ids[right.question], "wordings": [example]}
        client.post(
            f"/admin/review/{item['id']}",
            params={"min_similarity": QUEUE["min_similarity"]},
            json=body,
            headers=headers,
        ).raise_for_status()
        actions += 1
    return {"actions": actions, "not_in_queue": missing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.review_loop", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running service")
    parser.add_argument("--paraphrases", type=Path, required=True, help="wordings users ask (reviewed)")
    parser.add_argument("--held-out", type=Path, required=True, help="other wordings (never reviewed)")
    parser.add_argument("--out-of-domain", type=Path, help="unanswerable questions: {query, kind}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from app.domain.ask_sets import load_out_of_domain, load_paraphrases
    from app.domain.entry import DataError

    try:
        reviewed = load_paraphrases(args.paraphrases)
        held_out = load_paraphrases(args.held_out)
        unanswerable = load_out_of_domain(args.out_of_domain) if args.out_of_domain else []
    except DataError as exc:
        parser.error(str(exc))
    key = os.environ.get("ADMIN_API_KEY")
    if not key:
        parser.error("set ADMIN_API_KEY: the review queue is the owner's")
    headers = {"X-API-Key": key}
    report: dict[str, object] = {}
    try:
        with httpx.Client(base_url=args.url, timeout=120) as client:
            ids = entry_ids(client, headers)
            report["before"] = {
                "reviewed_set": measure(client, reviewed, []),
                "held_out_set": measure(client, held_out, []),
                **({"unanswerable": measure(client, [], unanswerable)} if unanswerable else {}),
            }
            report["users"] = act_as_users(client, reviewed, ids)
            failed = [item for item in reviewed if not _right(client, item, ids)]
            report["review"] = review(client, failed, ids, headers) | {"wordings_to_review": len(failed)}
            report["after"] = {
                "reviewed_set": measure(client, reviewed, []),
                "held_out_set": measure(client, held_out, []),
                **({"unanswerable": measure(client, [], unanswerable)} if unanswerable else {}),
            }
            report["reviewed_now_right"] = sum(_right(client, item, ids) for item in failed)
    except httpx.HTTPError as exc:
        print(f"the service at {args.url} failed: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(json.dumps(report, indent=2 if not args.json else None))  # noqa: T201 (the benchmark's output)
    return 0


def _right(client: httpx.Client, item, ids: dict[str, str]) -> bool:
    body = ask(client, item.query)
    return body["status"] == "answered" and body["answers"][0]["id"] == ids[item.question]


if __name__ == "__main__":
    raise SystemExit(main())
