"""`Tenants`: the FAQs of one service and the services of each, built on first use.

Every FAQ has its own search (over its own alias), decision rule, versions, reindex jobs, review
queue, logs, per-client budgets and /ask batcher, so one FAQ's askers cannot use up another's
budgets or fill another's queue. What does not depend on the FAQ is shared: the servable, the
store, the process that encodes writes (at a lower CPU priority, so a FAQ's reindex does not
slow another's asks) and the query-embedding cache (an embedding depends on the text only)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from app.assembly import search_over
from app.config import ServiceSettings
from app.domain.faq_names import alias_of, owns
from app.encoding.priority import WriteEncoder
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.serving.batcher import AskWorker
from app.serving.metrics import Metrics
from app.serving.rate_limit import ClientBudget
from app.serving.services import Services
from app.store.base import CollectionMissing, FaqStore, StoreError
from app.tenancy.keys import KeyRing
from app.tenancy.registry import FaqNotFound, FaqRecord, FaqRegistry
from app.usage.ask_log import AskLogWriter

logger = logging.getLogger(__name__)

# A FAQ's record (and so its services) is trusted for this long before the registry is read
# again (another replica may have deleted the FAQ or changed it).
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class PublicKeyBudgets:
    """What a public key may spend, a minute: all its askers together, and each of them."""

    per_key: ClientBudget
    per_client: ClientBudget


@dataclass(frozen=True)
class FaqRemoval:
    collections: list[str]
    keys: int


@dataclass(frozen=True)
class FaqSummary:
    record: FaqRecord
    entries: int


class Tenants:
    def __init__(
        self, servable: Servable, store: FaqStore, settings: ServiceSettings, metrics: Metrics | None
    ):
        self.servable = servable
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.default_name = settings.faq_default_name
        self.registry = FaqRegistry(store, settings.collection, settings.faq_default_name)
        self.keys = KeyRing(store, settings.collection)
        self.write_encoder = WriteEncoder(settings.write_niceness, settings.threads())
        self.ask_worker = AskWorker.from_settings(settings, metrics)
        self.ask_log_writer = AskLogWriter(store)
        self.public_budgets = PublicKeyBudgets(
            ClientBudget(settings.public_key_per_minute), ClientBudget(settings.public_client_per_minute)
        )
        self._lock = threading.Lock()
        self._creating = threading.Lock()  # one creation at a time: two of one name, one wins
        self._services: dict[str, Services] = {}
        self._records: dict[str, tuple[float, FaqRecord]] = {}
        self.default_search = search_over(
            servable, store, settings.collection, cache_size=settings.embedding_cache_size
        )
        self._services[self.default_name] = self._build(self.default_name, self.default_search)

    def alias(self, name: str) -> str:
        return alias_of(name, collection=self.settings.collection, default_name=self.default_name)

    @property
    def default(self) -> Services:
        return self._services[self.default_name]

    def record(self, name: str) -> FaqRecord:
        """The FAQ `name` as registered (read again after RECHECK_SECONDS); FaqNotFound."""
        now = time.monotonic()
        cached = self._records.get(name)
        if cached is not None and now - cached[0] < RECHECK_SECONDS:
            return cached[1]
        try:
            record = self.registry.get(name)
        except FaqNotFound:
            self._records.pop(name, None)
            raise
        if len(self._records) > 100_000:  # names asked for that come and go: keep it bounded
            self._records.clear()
        self._records[name] = (now, record)
        return record

    def services(self, name: str) -> Services:
        """The services of the FAQ `name`; FaqNotFound when there is no such FAQ (read again
        after RECHECK_SECONDS: another replica may have deleted it)."""
        if name == self.default_name:
            return self.default
        try:
            self.record(name)
        except FaqNotFound:
            self._forget(name)
            raise
        with self._lock:
            found = self._services.get(name)
            if found is None:
                search = FaqSearch(
                    self.servable,
                    self.store,
                    self.alias(name),
                    self.default_search.settings,
                    cache=self.default_search.cache,
                    lexical=self.default_search.lexical,
                )
                found = self._services[name] = self._build(name, search)
        return found

    def _build(self, name: str, search: FaqSearch) -> Services:
        return Services.build(
            search,
            self.settings,
            self.metrics,
            self.write_encoder,
            queue_label=name,
            ask_worker=self.ask_worker,
            ask_log_writer=self.ask_log_writer,
        )

    def create(self, name: str, *, open: bool = True) -> FaqRecord:
        """A new, empty FAQ (FaqExists, BadFaqName): asked at once, it answers "no answer"."""
        with self._creating:
            record = self.registry.create(name, open=open)
        try:
            self.services(name).entries.create_empty()
        except Exception:
            # Nothing half made stays: the record goes, and whatever the FAQ got in the store.
            self.delete(name)
            raise
        logger.info("created the FAQ '%s'", name)
        return record

    def set_origins(self, name: str, origins: tuple[str, ...]) -> FaqRecord:
        """The sites the FAQ's widget may be on (FaqNotFound); this replica sees them at once."""
        record = self.registry.set_origins(name, origins)
        with self._lock:
            self._records[name] = (time.monotonic(), record)
        return record

    def delete(self, name: str) -> FaqRemoval:
        """Delete the FAQ `name` and everything of it: its versions and records in the store,
        and its keys (FaqNotFound, DefaultFaqKept)."""
        self.registry.remove(name)  # first: from now on the FAQ is not found, here or elsewhere
        self._forget(name)
        alias = self.alias(name)
        dropped = []
        for collection in self.store.collection_names():
            if owns(alias, collection):
                self.store.drop(collection)
                dropped.append(collection)
        revoked = self.keys.drop_faq(name)
        logger.info("deleted the FAQ '%s' (%d collections, %d keys)", name, len(dropped), revoked)
        return FaqRemoval(dropped, revoked)

    def _forget(self, name: str) -> None:
        with self._lock:
            services = self._services.pop(name, None)
            self._records.pop(name, None)
        if services is not None:
            services.close()

    def summaries(self, *, after: str = "", limit: int = 100) -> tuple[list[FaqSummary], str | None]:
        """A page of FAQs with their entries (0 before a first version): the default first,
        then by name after `after`; and the name to continue after (None: the last page).
        Counting opens each FAQ's collection, so a page is bounded, not the whole service."""
        records = self.registry.all()  # the default, then the others by name
        start = 0
        if after:
            # past the default: the others from the first; else the first name past `after`
            # (which may have been deleted meanwhile)
            start = next(
                (
                    i
                    for i, r in enumerate(records)
                    if i > 0 and (after == self.default_name or r.name > after)
                ),
                len(records),
            )
        page = records[start : start + limit]
        following = page[-1].name if start + limit < len(records) else None
        return [FaqSummary(r, self.entry_count(r.name)) for r in page], following

    def entry_count(self, name: str) -> int:
        try:
            return self.store.collection_info(self.alias(name)).points
        except CollectionMissing:
            return 0
        except StoreError:
            logger.warning("could not count the entries of '%s'", name, exc_info=True)
            return 0

    def close(self) -> None:
        with self._lock:
            services = list(self._services.values())
            self._services.clear()
        for each in services:
            each.close()
        self.ask_worker.close()
        self.ask_log_writer.close()
        self.write_encoder.close()
