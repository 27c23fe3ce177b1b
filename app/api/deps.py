"""Typed dependencies: the resources opened in the lifespan, handed to the routes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, HTTPException, Request, status

from app.batcher import MicroBatcher
from app.core.config import ServiceSettings
from app.core.search import FaqSearch
from app.feedback import FeedbackLog
from app.live_entries import LiveEntries
from app.reindex_jobs import ReindexJobs
from app.unanswered import UnansweredLog

T = TypeVar("T", ReindexJobs, LiveEntries, FeedbackLog, UnansweredLog, MicroBatcher)


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def _resource(request: Request, name: str, what: str):
    """A resource opened in the lifespan, or 503 saying why it is missing."""
    resource = getattr(request.app.state, name)
    if resource is None:
        error = getattr(request.app.state, f"{name}_error")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{what}: {error}")
    return resource


def get_search(request: Request) -> FaqSearch:
    """The search over the loaded servable and the open store; 503 naming what is missing."""
    _resource(request, "servable", "the model is not loaded")
    _resource(request, "store", "the vector store is not open")
    return request.app.state.search


SearchDep = Annotated[FaqSearch, Depends(get_search)]


def _follows(request: Request, name: str, search: FaqSearch, build: Callable[[], T]) -> T:
    """The lifespan's `name` resource, built anew when the search in use is not the one it was
    made for (a test's dependency override), so that every resource works on the same search."""
    resource = getattr(request.app.state, name)
    if resource is None or resource.search is not search:
        resource = build()
        setattr(request.app.state, name, resource)
    return resource


def get_jobs(request: Request, search: SearchDep) -> ReindexJobs:
    return _follows(request, "jobs", search, lambda: ReindexJobs(search))


JobsDep = Annotated[ReindexJobs, Depends(get_jobs)]


def get_entries(request: Request, search: SearchDep, jobs: JobsDep) -> LiveEntries:
    return _follows(request, "entries", search, lambda: LiveEntries(search, jobs))


def get_feedback(request: Request, search: SearchDep) -> FeedbackLog:
    return _follows(request, "feedback", search, lambda: FeedbackLog(search))


def get_unanswered(request: Request, search: SearchDep) -> UnansweredLog:
    return _follows(request, "unanswered", search, lambda: UnansweredLog(search, request.app.state.settings))


def get_batcher(request: Request, search: SearchDep) -> MicroBatcher:
    state = request.app.state
    return _follows(
        request, "batcher", search, lambda: MicroBatcher.from_settings(search, state.settings, state.metrics)
    )


BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]


def require_admin(
    settings: Annotated[ServiceSettings, Depends(get_settings)],
    x_api_key: Annotated[str | None, Header(description="The ADMIN_API_KEY of the server.")] = None,
) -> None:
    if settings.admin_api_key is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin endpoints are disabled: the server has no ADMIN_API_KEY configured",
        )
    if not x_api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this endpoint needs the X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    # Compared as bytes: the header arrives as latin-1 text, and compare_digest refuses
    # non-ASCII str (a key like "ключ" would otherwise be a 500).
    sent = x_api_key.encode("latin-1", errors="replace")
    expected = settings.admin_api_key.get_secret_value().encode("utf-8")
    if not secrets.compare_digest(sent, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong API key")


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EntriesDep = Annotated[LiveEntries, Depends(get_entries)]
FeedbackDep = Annotated[FeedbackLog, Depends(get_feedback)]
UnansweredDep = Annotated[UnansweredLog, Depends(get_unanswered)]
AdminDep = Depends(require_admin)
