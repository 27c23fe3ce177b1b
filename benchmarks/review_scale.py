"""The owner's lists as the records grow: `GET /admin/review` and `GET /admin/unanswered`
(the same code: `ReviewQueue.items`, `UnansweredLog.groups`) at N recorded questions, and
`GET /admin/insights?days=30` (`Insights.report`) at M logged asks, in this process, on the
embedded store (Qdrant Edge) as the service keeps them.

    python -m benchmarks.review_scale [--records 10000] [--asks 100000] [--output var/bench/review_scale.json]

The questions are synthetic but shaped like real traffic: topics asked with Zipf-like counts
(a few often, most once), each asking a unit vector near its topic's centre (what the
question encoder gives for wordings of one thing), with a feedback record for one question in
twenty (picked suggestions and not helpful answers). The nearest entries come from a real
search: the base encoder over a small FAQ indexed first.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import uuid
from pathlib import Path

import numpy as np

logger = logging.getLogger("benchmarks.review_scale")

FAQ = [
    ("how do i renew a book?", "online, at the desk, or by phone"),
    ("how many books can i borrow?", "up to twenty on one card"),
    ("can i book a study room?", "yes, up to two hours a day"),
    ("what if i lose my card?", "report it; a new card costs two pounds"),
]


def build(records: int, seed: int = 0):
    from app.assembly import scratch_search
    from app.config import RecordingSettings
    from app.domain.entry import FaqEntry
    from app.domain.records import FaqDataset
    from app.encoding.servable import Servable
    from app.search.settings import SearchSettings
    from app.usage.feedback import FeedbackLog
    from app.usage.review import ReviewQueue
    from app.usage.unanswered import UnansweredLog
    from app.writes.index_job import index_dataset
    from app.writes.live_entries import LiveEntries
    from app.writes.reindex_jobs import ReindexJobs

    servable = Servable.from_base_model(device="cpu")
    search = scratch_search(servable, SearchSettings(mode="fused", fusion="sum"), "faq")
    entries = [FaqEntry(q, a, "library") for q, a in FAQ]
    index_dataset(FaqDataset(Path("bench"), entries), search, progress=False)
    live = LiveEntries(search, ReindexJobs(search))
    settings = RecordingSettings.model_validate({"FAQ_UNANSWERED_MAX_RECORDS": records * 2})
    unanswered = UnansweredLog(search, settings)
    feedback = FeedbackLog(search, live)
    rng = np.random.default_rng(seed)
    dim = servable.embedding_size
    topics = max(1, records // 5)
    centres = rng.normal(size=(topics, dim)).astype(np.float32)
    weights = 1.0 / np.arange(1, topics + 1)
    chosen = rng.choice(topics, size=records, p=weights / weights.sum())
    ids = [str(e.id) for e in entries]
    started = time.time() - 86400
    for n, topic in enumerate(chosen):
        vector = centres[topic] / np.linalg.norm(centres[topic]) + rng.normal(scale=0.02, size=dim)
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        question = f"question {n} about topic {topic}"
        if n % 20 == 0:  # a picked suggestion or a not helpful answer
            payload = {
                "question": question,
                "entry_id": ids[n % len(ids)],
                "helpful": n % 40 == 0,
                "picked": n % 40 == 0,
                "comment": "",
                "at": "2026-11-30T00:00:00+00:00",
                "entry": entries[n % len(entries)].to_record(),
            }
            search.store.add_record(feedback.name, str(uuid.uuid4()), vector, payload)
            continue
        payload = {"question": question, "best_score": 0.3, "asked_at": started + n, "status": "no_answer"}
        search.store.add_record(unanswered.name, str(uuid.uuid4()), vector, payload)
    return ReviewQueue(live, feedback, unanswered), unanswered


def log_asks(queue, asks: int, seed: int = 1):
    """`asks` logged asks over the last 29 days (a third answered by a few popular entries, the
    rest asked back or declined), written in bulk; the insights over them."""
    from app.store.base import NO_VECTOR
    from app.usage.ask_log import AskLog, day_of
    from app.usage.insights import Insights

    log = AskLog(queue.search, queue.unanswered.settings.model_copy(update={"ask_log_max_records": asks * 2}))
    rng = np.random.default_rng(seed)
    now = time.time()
    statuses = rng.choice(["answered", "clarify", "no_answer"], size=asks, p=[0.6, 0.3, 0.1])
    ages = rng.uniform(0, 29 * 86400, size=asks)  # within the 30 days asked for
    tops = rng.integers(0, len(FAQ), size=asks)
    ids = [pid for pid, _ in queue.entries.each()]
    batch = []
    for n in range(asks):
        at = now - float(ages[n])
        payload = {
            "question": f"question {n}",
            "status": str(statuses[n]),
            "top_id": ids[tops[n] % len(ids)] if statuses[n] == "answered" else "",
            "top_question": "",
            "score": 0.5,
            "at": at,
            "date": day_of(at),
        }
        batch.append((str(uuid.uuid4()), NO_VECTOR, payload))
        if len(batch) == 5000:
            log.write(batch)
            batch = []
    if batch:
        log.write(batch)
    return Insights(log, queue.entries, queue.unanswered, queue.feedback)


def timed(call, repeats: int) -> tuple[float, object]:
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.review_scale", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--records", type=int, default=10_000, help="recorded questions")
    parser.add_argument("--asks", type=int, default=100_000, help="logged asks (for the insights)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each list (the median is reported)")
    parser.add_argument("--output", type=Path, default=Path("var/bench/review_scale.json"))
    args = parser.parse_args(argv)
    if args.records < 1 or args.asks < 1:
        parser.error("--records and --asks must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    queue, unanswered = build(args.records)
    review_s, items = timed(lambda: queue.items(limit=50), args.repeats)
    groups_s, _ = timed(lambda: unanswered.groups(limit=50), args.repeats)
    groups, total = unanswered.groups(limit=50)  # what was listed (the same each run)
    strict_s, _ = timed(lambda: unanswered.groups(min_similarity=1.0, limit=50), args.repeats)
    insights = log_asks(queue, args.asks)
    insights_s, report_30 = timed(lambda: insights.report(30), args.repeats)
    report = {
        "records": args.records,
        "review_items_listed": len(items),  # type: ignore[arg-type]
        "review_seconds": round(review_s, 3),
        "unanswered_questions": total,
        "unanswered_groups_listed": len(groups),
        "unanswered_seconds": round(groups_s, 3),
        "unanswered_min_similarity_1_seconds": round(strict_s, 3),
        "asks_logged": args.asks,
        "insights_30_days_seconds": round(insights_s, 3),
        "insights_asks_counted": sum(day["asks"] for day in report_30["days"]),  # type: ignore[index]
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))  # noqa: T201 (the benchmark's output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
