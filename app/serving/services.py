"""What the service builds on one `FaqSearch`: reindex jobs, live entries, the feedback and
unanswered-question logs, the review queue, and the /ask micro-batcher. Built in one place, for the lifespan
and for a dependency override that swaps the search (app.api.deps)."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import ServiceSettings
from app.encoding.priority import WriteEncoder
from app.search.faq_search import FaqSearch
from app.serving.batcher import MicroBatcher
from app.serving.metrics import Metrics
from app.serving.rate_limit import ClientBudget
from app.usage.ask_log import AskLog
from app.usage.calibration import AskerCalibration
from app.usage.feedback import FeedbackLog
from app.usage.insights import Insights
from app.usage.review import ReviewQueue
from app.usage.unanswered import UnansweredLog
from app.writes.faq_import import FaqImport
from app.writes.live_entries import LiveEntries
from app.writes.reindex_jobs import ReindexJobs
from app.writes.versions import Versions


@dataclass(frozen=True)
class Services:
    search: FaqSearch
    # Where writes encode: a process at a lower CPU priority (app.encoding.priority).
    write_encoder: WriteEncoder
    jobs: ReindexJobs
    entries: LiveEntries
    feedback: FeedbackLog
    unanswered: UnansweredLog
    review: ReviewQueue
    importer: FaqImport
    versions: Versions
    asks: AskLog
    insights: Insights
    calibration: AskerCalibration
    batcher: MicroBatcher
    # What one anonymous client may write (app.serving.rate_limit).
    feedback_budget: ClientBudget
    records_budget: ClientBudget
    asks_budget: ClientBudget
    # False when the write encoder is shared by several FAQs' services (app.tenancy) and closed
    # by its owner.
    owns_encoder: bool = True

    @classmethod
    def build(
        cls,
        search: FaqSearch,
        settings: ServiceSettings,
        metrics: Metrics | None,
        write_encoder: WriteEncoder | None = None,
        queue_label: str = "",
    ) -> Services:
        """The services of one FAQ; `write_encoder`: one shared with other FAQs (else its own);
        `queue_label`: the FAQ's name on its batcher's queue in /metrics."""
        owns_encoder = write_encoder is None
        write_encoder = write_encoder or WriteEncoder(settings.write_niceness, settings.threads())
        jobs = ReindexJobs(search, settings.keep_versions, write_encoder)
        entries = LiveEntries(search, jobs, write_encoder)
        feedback = FeedbackLog(search, entries)
        unanswered = UnansweredLog(search, settings)
        asks = AskLog(search, settings)
        return cls(
            search=search,
            write_encoder=write_encoder,
            jobs=jobs,
            entries=entries,
            feedback=feedback,
            unanswered=unanswered,
            review=ReviewQueue(entries, feedback, unanswered),
            importer=FaqImport(entries, jobs),
            versions=Versions(entries),
            asks=asks,
            insights=Insights(asks, entries, unanswered, feedback),
            calibration=AskerCalibration(
                search, feedback, unanswered, enabled=settings.learn_from_askers and settings.record_questions
            ),
            batcher=MicroBatcher.from_settings(search, settings, metrics, queue_label=queue_label),
            feedback_budget=ClientBudget(settings.feedback_per_minute),
            records_budget=ClientBudget(settings.records_per_minute),
            asks_budget=ClientBudget(settings.ask_log_per_minute),
            owns_encoder=owns_encoder,
        )

    def close(self) -> None:
        self.batcher.close()
        self.asks.flush()
        self.jobs.wait(timeout=60)
        if self.owns_encoder:
            self.write_encoder.close()
