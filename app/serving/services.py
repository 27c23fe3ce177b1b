"""What the service builds on one `FaqSearch`: reindex jobs, live entries, the feedback and
unanswered-question logs, the review queue, and the /ask micro-batcher. Built in one place, for the lifespan
and for a dependency override that swaps the search (app.api.deps)."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import ServiceSettings
from app.encoding.priority import WriteEncoder
from app.search.faq_search import Answers, FaqSearch
from app.serving.batcher import AskQueue, AskWorker
from app.serving.metrics import Metrics
from app.serving.rate_limit import ClientBudget
from app.usage.ask_log import AskLog, AskLogWriter
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
    # The FAQ's /ask queue, answered by `ask_worker` (app.serving.batcher).
    batcher: AskQueue
    ask_worker: AskWorker
    # Writes the ask log's batches (every FAQ's, in the service of many).
    ask_log_writer: AskLogWriter
    # What one anonymous client may write (app.serving.rate_limit).
    feedback_budget: ClientBudget
    records_budget: ClientBudget
    asks_budget: ClientBudget
    # False when the write encoder and the ask worker are shared by several FAQs' services
    # (app.tenancy) and closed by their owner.
    owns_shared: bool = True

    @classmethod
    def build(
        cls,
        search: FaqSearch,
        settings: ServiceSettings,
        metrics: Metrics | None,
        write_encoder: WriteEncoder | None = None,
        queue_label: str = "",
        ask_worker: AskWorker | None = None,
        ask_log_writer: AskLogWriter | None = None,
    ) -> Services:
        """The services of one FAQ; `write_encoder`, `ask_worker` and `ask_log_writer`: shared
        with other FAQs (all or none; else its own); `queue_label`: the FAQ's name on its /ask
        queue in /metrics."""
        owns_shared = write_encoder is None
        write_encoder = write_encoder or WriteEncoder(settings.write_niceness, settings.threads())
        ask_worker = ask_worker or AskWorker.from_settings(settings, metrics)
        ask_log_writer = ask_log_writer or AskLogWriter(search.store)
        jobs = ReindexJobs(search, settings.keep_versions, write_encoder)
        entries = LiveEntries(search, jobs, write_encoder)
        feedback = FeedbackLog(search, entries)
        unanswered = UnansweredLog(search, settings)
        asks = AskLog(search, settings, ask_log_writer)
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
            batcher=ask_worker.queue(search, settings.batch_queue_size, queue_label),
            ask_worker=ask_worker,
            ask_log_writer=ask_log_writer,
            feedback_budget=ClientBudget(settings.feedback_per_minute),
            records_budget=ClientBudget(settings.records_per_minute),
            asks_budget=ClientBudget(settings.ask_log_per_minute),
            owns_shared=owns_shared,
        )

    def record_ask(self, question: str, result: Answers, client: str, label: str, *, via: str = "") -> None:
        """What the FAQ keeps of one ask, after its answer is sent, within the asker's budgets
        (`client`: who asked; `label`: that, as the records keep it): a miss for the review
        queue, and the ask for insights (`via`: the entry whose follow-up led here)."""
        if self.unanswered.missed(result) and self.records_budget.allow(client):
            self.unanswered.record_missed(question, result, label)
        if self.asks_budget.allow(client):
            self.asks.record(question, result, via=via)

    def close(self) -> None:
        self.batcher.close()
        self.asks.close()
        self.jobs.wait(timeout=60)
        if self.owns_shared:
            self.ask_worker.close()
            self.ask_log_writer.close()
            self.write_encoder.close()
