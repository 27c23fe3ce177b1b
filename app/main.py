"""The FastAPI application: `create_app()` builds it; the lifespan loads the servable once and
opens the store, and closes the store on shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from app.api.access import ASKER_REFUSALS, AskerDep, FaqPathDep, KnownFaqDep, faq_route_id, may_upload
from app.api.body_limit import BodySizeLimit
from app.api.client_address import TrustedProxies
from app.api.cors import WidgetCors
from app.api.errors import add_error_handlers
from app.api.no_store import NoStoreForAdmin
from app.api.observability import RequestContext
from app.api.routes import admin, ask, entries, faqs, feedback, health, metrics_route, slack, web, widget
from app.api.schemas.common import Problem, ValidationProblem
from app.assembly import load_servable
from app.config import ServiceSettings
from app.encoding.servable import ServableError
from app.serving.metrics import Metrics
from app.store.base import FaqStore, StoreError
from app.store.opening import open_store
from app.tenancy.registry import FaqNotFound
from app.tenancy.tenants import Tenants

logger = logging.getLogger(__name__)


def _open_resources(app: FastAPI, settings: ServiceSettings) -> None:
    state = app.state
    state.settings = settings
    state.servable = state.store = state.search = state.services = state.tenants = None
    torch.set_num_threads(settings.threads())
    logger.info("torch uses %d threads", settings.threads())
    state.servable_error = state.store_error = None
    # A missing servable or store does not stop the process: /health stays up and /ready says
    # what is missing, which is what an orchestrator needs to report it.
    try:
        state.servable = load_servable(settings)
    except (ServableError, ValueError) as exc:
        state.servable_error = str(exc)
        logger.error("%s", exc)
    try:
        state.store = open_store(settings)
        _drop_orphans(state.store, settings.collection)
    except StoreError as exc:
        state.store_error = str(exc)
        logger.error("%s", exc)
    if state.servable is not None and state.store is not None:
        try:
            state.tenants = Tenants(state.servable, state.store, settings, state.metrics)
        except (ServableError, ValueError) as exc:  # settings in the servable that cannot be used
            state.servable, state.servable_error = None, str(exc)
            logger.error("%s", exc)
            return
        # The default FAQ's: what the routes without /faqs/{faq} use.
        state.search, state.services = state.tenants.default_search, state.tenants.default


def _track(app: FastAPI, metrics: Metrics) -> None:
    """The gauges read on each scrape of /metrics."""
    state = app.state

    def index_size() -> float:
        try:
            return float(state.store.collection_info(state.settings.collection).points)
        except (StoreError, AttributeError):
            return -1.0

    def cache(attribute: str) -> float:
        return float(getattr(state.search.cache, attribute)) if state.search is not None else 0.0

    metrics.track_index_size(index_size)
    metrics.track_cache(lambda: cache("hits"), lambda: cache("misses"))


def _drop_orphans(store: FaqStore, alias: str) -> None:
    """Drop collection versions that a killed index job left behind. Only on the embedded
    store, which this process alone holds: against a server, another replica may be building
    that version right now; there the next finished index job drops them (and /ready lists them)."""
    if not store.embedded:
        return
    for orphan in store.orphan_versions(alias):
        logger.warning("dropping %s: an unfinished index version left by an interrupted job", orphan)
        store.drop(orphan)


async def allowed_origins(state: object, faq: str | None) -> tuple[str, ...] | None:
    """The sites allowed to use the FAQ `faq`'s widget (None: the default FAQ); None when there
    is no such FAQ or nothing to ask (the routes answer 404 or 503)."""
    tenants: Tenants | None = getattr(state, "tenants", None)
    if tenants is None:
        return None
    try:  # a store read now and then (the record is kept a few seconds): off the event loop
        record = await run_in_threadpool(tenants.record, faq or tenants.default_name)
    except (FaqNotFound, StoreError):
        return None
    return record.allowed_origins


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings or ServiceSettings()
    proxies = TrustedProxies(config.forwarded_allow_ips)  # a bad FORWARDED_ALLOW_IPS stops here

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.metrics = metrics
        _open_resources(app, config)
        _track(app, metrics)
        yield
        if app.state.tenants is not None:
            app.state.tenants.close()
        if app.state.store is not None:
            app.state.store.close()
        metrics.process_ended()

    app = FastAPI(
        # No redirect to the slash-less path: it would be built from the client's Host header.
        redirect_slashes=False,
        title="FAQ answers",
        description="Answers questions with the nearest FAQ answers: a metric-learning encoder "
        "trained with Quaterion, answers stored in Qdrant.",
        version="0.1.0",
        lifespan=lifespan,
        # Our 422 body (a readable `detail` and the `errors`), declared so the schema is true.
        responses={422: {"model": ValidationProblem, "description": "the request does not validate"}},
    )
    app.state.proxies = proxies
    slack.set_up(app.state, config)
    app.include_router(web.router)
    app.include_router(ask.router, dependencies=[AskerDep], responses=ASKER_REFUSALS)
    app.include_router(feedback.router, dependencies=[AskerDep], responses=ASKER_REFUSALS)
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    app.include_router(entries.router)
    app.include_router(admin.router)
    app.include_router(faqs.faqs)
    app.include_router(faqs.keys)
    app.include_router(faqs.key)
    app.include_router(widget.admin)
    app.include_router(widget.script)
    app.include_router(widget.embed)
    app.include_router(slack.router)
    # Every FAQ's own routes, under /faqs/{faq}: the same handlers, for the FAQ in the path. The
    # pages need no key (404 for no such FAQ); the asker's routes check the FAQ's access; the
    # owner's routes check the key first and the FAQ after (their services: 404).
    for router, guard in (
        (web.router, [KnownFaqDep]),
        (widget.embed, [KnownFaqDep]),
        (widget.admin, [FaqPathDep]),
        (ask.router, [FaqPathDep, AskerDep]),
        (feedback.router, [FaqPathDep, AskerDep]),
        (entries.router, [FaqPathDep]),
        (admin.router, [FaqPathDep]),
        (faqs.keys, [FaqPathDep]),
    ):
        app.include_router(
            router,
            prefix="/faqs/{faq}",
            dependencies=guard,
            responses={
                404: {"model": Problem, "description": "no FAQ of this name"},
                **(ASKER_REFUSALS if AskerDep in guard else {}),
            },
            generate_unique_id_function=faq_route_id,
        )
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.add_middleware(
        BodySizeLimit,
        default=config.max_request_bytes,
        # A reindex upload is a whole data file; a batch of new entries can be large too.
        by_path=dict.fromkeys((admin.router.prefix, entries.router.prefix), config.max_upload_bytes),
        may_upload=lambda faq, key: may_upload(app.state, faq, key),
        timeout_s=config.body_timeout_s,
    )
    app.add_middleware(NoStoreForAdmin)
    app.add_middleware(WidgetCors, origins_of=lambda faq: allowed_origins(app.state, faq))
    app.add_middleware(RequestContext, metrics=metrics)
    add_error_handlers(app)

    return app
