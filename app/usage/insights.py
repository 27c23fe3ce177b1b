"""What the owner sees of the FAQ's use (GET /admin/insights): asks per day by outcome, the
most asked entries, the most frequent unanswered groups, and helpful / not helpful per entry.
Counts come from the ask log's keyword indexes (a facet a question), so they stay fast as the
log grows (100,000 asks: docs/benchmarks.md, benchmarks.review_scale)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from app.search.decision import ANSWERED, CLARIFY, NO_ANSWER
from app.search.entries import FaqEntries
from app.usage.ask_log import AskLog
from app.usage.feedback import FeedbackLog
from app.usage.unanswered import UnansweredLog

TOP = 10


class Insights:
    def __init__(self, asks: AskLog, entries: FaqEntries, unanswered: UnansweredLog, feedback: FeedbackLog):
        self.asks = asks
        self.entries = entries
        self.unanswered = unanswered
        self.feedback = feedback

    def report(self, days: int) -> dict:
        self.asks.flush()  # this process's latest asks count too
        today = datetime.now(UTC).date()
        dates = [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
        by_status = {
            status: self.asks.counts("date", where={"date": dates, "status": [status]}, limit=days)
            for status in (ANSWERED, CLARIFY, NO_ANSWER)
        }
        per_day = [
            {
                "date": date,
                "asks": sum(by_status[s].get(date, 0) for s in by_status),
                "answered": by_status[ANSWERED].get(date, 0),
                "clarify": by_status[CLARIFY].get(date, 0),
                "no_answer": by_status[NO_ANSWER].get(date, 0),
            }
            for date in dates
        ]
        top = self.asks.counts("top_id", where={"date": dates, "status": [ANSWERED]}, limit=TOP)
        known = self.entries.store.entries(self.entries.alias, list(top)) if top else {}
        top_entries = [
            {"id": pid, "question": known[pid].question if pid in known else None, "asks": count}
            for pid, count in sorted(top.items(), key=lambda item: -item[1])
        ]
        groups, _ = self.unanswered.groups(limit=TOP)
        unanswered = [
            {
                "question": g.representative,
                "count": g.count,
                "last_asked": g.last_asked,
                "examples": g.examples,
            }
            for g in groups
            if g.last_asked[:10] >= dates[0]
        ]
        votes: dict[str, dict] = defaultdict(lambda: {"helpful": 0, "not_helpful": 0, "question": ""})
        for item in self.feedback.all():
            if item.at[:10] < dates[0]:
                continue
            entry = votes[item.entry_id]
            entry["question"] = item.entry.question
            entry["helpful" if item.helpful else "not_helpful"] += 1
        feedback = sorted(
            ({"id": pid, **counts} for pid, counts in votes.items()),
            key=lambda row: -(row["helpful"] + row["not_helpful"]),
        )
        return {
            "days": per_day,
            "top_entries": top_entries,
            "unanswered": unanswered,
            "feedback": feedback,
            "next_steps": self._next_steps(dates),
        }

    def _next_steps(self, dates: list[str]) -> list[dict]:
        """Where askers went next: for the entries whose follow-ups were chosen most, which
        follow-ups (from the ask log's `via`, a facet an entry)."""
        origins = self.asks.counts("via", where={"date": dates}, limit=TOP)
        steps = {
            via: self.asks.counts("top_id", where={"date": dates, "via": [via]}, limit=TOP) for via in origins
        }
        questions = self.entries.questions_of({*origins, *(t for chosen in steps.values() for t in chosen)})
        return [
            {
                "id": via,
                "question": questions.get(via),
                "chosen": count,
                "next": [
                    {"id": target, "question": questions.get(target), "count": n}
                    for target, n in sorted(steps[via].items(), key=lambda item: -item[1])
                ],
            }
            for via, count in sorted(origins.items(), key=lambda item: -item[1])
        ]
