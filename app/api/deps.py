"""Typed dependencies: the resources opened in the lifespan, handed to the routes."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from app.api.access import OwnerDep, access_of, faq_in
from app.api.errors import hide_paths
from app.config import ServiceSettings
from app.search.faq_search import FaqSearch
from app.serving.batcher import AskQueue
from app.serving.services import Services
from app.tenancy.tenants import Tenants
from app.usage.feedback import FeedbackLog
from app.usage.review import ReviewQueue
from app.usage.unanswered import UnansweredLog
from app.writes.faq_import import FaqImport
from app.writes.live_entries import LiveEntries
from app.writes.reindex_jobs import ReindexJobs
from app.writes.versions import Versions


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def _resource(request: Request, name: str, what: str):
    """A resource opened in the lifespan, or 503 saying why it is missing."""
    resource = getattr(request.app.state, name)
    if resource is None:
        error = getattr(request.app.state, f"{name}_error")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, hide_paths(f"{what}: {error}"))
    return resource


def get_search(request: Request) -> FaqSearch:
    """The search over the loaded servable and the open store; 503 naming what is missing."""
    _resource(request, "servable", "the model is not loaded")
    _resource(request, "store", "the vector store is not open")
    return request.app.state.search


SearchDep = Annotated[FaqSearch, Depends(get_search)]


def get_services(request: Request, search: SearchDep) -> Services:
    """The services of the FAQ in the path (/faqs/{faq}/...; FaqNotFound: 404), else the
    default FAQ's, as the lifespan built them (the search first: a 503 names what is missing).
    Tests that serve another search override this dependency with services built on it."""
    if "faq" in request.path_params:
        return request.app.state.tenants.services(faq_in(request))
    return request.app.state.services


def get_tenants(request: Request, search: SearchDep) -> Tenants:
    """Every FAQ of the service (503 while the model or the store is missing)."""
    return request.app.state.tenants


ServicesDep = Annotated[Services, Depends(get_services)]


def get_jobs(services: ServicesDep) -> ReindexJobs:
    return services.jobs


def get_entries(services: ServicesDep) -> LiveEntries:
    return services.entries


def client_key(request: Request) -> str:
    """Who is asking, for the per-client budgets: the peer address, or behind the proxies of
    FORWARDED_ALLOW_IPS the visitor's (app.api.client_address)."""
    return request.app.state.proxies.of(request)


def client_id(request: Request) -> str:
    """The client as recorded with feedback and missed questions: a short hash of its address
    (labels count per client; the address itself is not kept)."""
    return hashlib.sha256(client_key(request).encode("utf-8")).hexdigest()[:16]


def get_feedback(services: ServicesDep) -> FeedbackLog:
    return services.feedback


def get_unanswered(services: ServicesDep) -> UnansweredLog:
    return services.unanswered


def get_review(services: ServicesDep) -> ReviewQueue:
    return services.review


def get_import(services: ServicesDep) -> FaqImport:
    return services.importer


def get_versions(services: ServicesDep) -> Versions:
    return services.versions


def get_batcher(services: ServicesDep) -> AskQueue:
    return services.batcher


JobsDep = Annotated[ReindexJobs, Depends(get_jobs)]
BatcherDep = Annotated[AskQueue, Depends(get_batcher)]


def admin_key_matches(settings: ServiceSettings, x_api_key: str | None) -> bool:
    """True when the request carries the service key (ADMIN_API_KEY)."""
    return access_of(settings, None, x_api_key) is not None


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EntriesDep = Annotated[LiveEntries, Depends(get_entries)]
FeedbackDep = Annotated[FeedbackLog, Depends(get_feedback)]
UnansweredDep = Annotated[UnansweredLog, Depends(get_unanswered)]
ReviewDep = Annotated[ReviewQueue, Depends(get_review)]
ImportDep = Annotated[FaqImport, Depends(get_import)]
VersionsDep = Annotated[Versions, Depends(get_versions)]
TenantsDep = Annotated[Tenants, Depends(get_tenants)]
# The admin routes of a FAQ: its owner key or the service key (app.api.access).
AdminDep = OwnerDep
