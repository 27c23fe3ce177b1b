"""The project's own failures and what each means to whoever meets it: an HTTP status for the
API (app.api.errors) and a message for the command line (cli.common.known_errors), from one
table. Most specific first: a CollectionMissing is a StoreError too."""

from __future__ import annotations

from app.domain.entry import DataError, TooManyWordings
from app.domain.faq_names import BadFaqName
from app.encoding.servable import ServableError
from app.search.entries import EntryNotFound
from app.serving.batcher import Overloaded
from app.store.base import CollectionMissing, StoreError
from app.tenancy.keys import KeyNotFound, TooManyKeys
from app.tenancy.registry import DefaultFaqKept, FaqExists, FaqNotFound
from app.usage.review import ReviewItemGone
from app.writes.live_entries import DuplicateEntry, ReindexNeeded
from app.writes.reindex_jobs import JobAlreadyRunning, ReindexRunning
from app.writes.versions import VersionNotFound

NOT_FOUND, CONFLICT, UNPROCESSABLE, UNAVAILABLE = 404, 409, 422, 503

# (exception, HTTP status, message template: "{}" is the exception's own message)
KNOWN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (EntryNotFound, NOT_FOUND, "{}"),
    (ReviewItemGone, NOT_FOUND, "{}"),
    (VersionNotFound, NOT_FOUND, "{}"),
    (FaqNotFound, NOT_FOUND, "{}"),
    (KeyNotFound, NOT_FOUND, "{}"),
    (FaqExists, CONFLICT, "{}"),
    (TooManyKeys, CONFLICT, "{}"),
    (DefaultFaqKept, CONFLICT, "{}"),
    (BadFaqName, UNPROCESSABLE, "{}"),
    (DuplicateEntry, CONFLICT, "{}"),
    (ReindexNeeded, CONFLICT, "{}"),
    (ReindexRunning, CONFLICT, "{}"),
    (JobAlreadyRunning, CONFLICT, "{}"),
    (TooManyWordings, UNPROCESSABLE, "{}"),
    (DataError, UNPROCESSABLE, "{}"),
    (Overloaded, UNAVAILABLE, "too many questions at once ({}): try again in a second"),
    (ServableError, UNAVAILABLE, "{}"),
    (CollectionMissing, UNAVAILABLE, "{}"),
    (StoreError, UNAVAILABLE, "the vector store failed: {}"),
]


def message_for(exc: Exception) -> str | None:
    """What the table says of `exc` (None: not one of ours)."""
    for kind, _, template in KNOWN_ERRORS:
        if isinstance(exc, kind):
            return template.format(exc)
    return None
