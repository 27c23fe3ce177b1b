"""The FastAPI application: `create_app()` builds it; the lifespan loads the servable once and
opens the store, and closes the store on shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api.body_limit import BodySizeLimit
from app.api.routes import admin, ask, health
from app.core.config import ServiceSettings
from app.core.search import FaqSearch
from app.core.servable import Servable, ServableError
from app.core.store import FaqStore, StoreError
from app.reindex_jobs import ReindexJobs
from app.schemas import ValidationProblem

logger = logging.getLogger(__name__)


def _open_resources(app: FastAPI, settings: ServiceSettings) -> None:
    state = app.state
    state.settings = settings
    state.servable = state.store = state.search = state.jobs = None
    state.servable_error = state.store_error = None
    # A missing servable or store does not stop the process: /health stays up and /ready says
    # what is missing, which is what an orchestrator needs to report it.
    try:
        state.servable = Servable.load(settings.servable, device=settings.device)
    except (ServableError, ValueError) as exc:
        state.servable_error = str(exc)
        logger.error("%s", exc)
    try:
        state.store = FaqStore.open(settings)
        _drop_orphans(state.store, settings.collection)
    except StoreError as exc:
        state.store_error = str(exc)
        logger.error("%s", exc)
    if state.servable is not None and state.store is not None:
        try:
            state.search = FaqSearch(state.servable, state.store, settings.collection)
        except (ServableError, ValueError) as exc:  # settings in the servable that cannot be used
            state.servable, state.servable_error = None, str(exc)
            logger.error("%s", exc)
            return
        state.jobs = ReindexJobs(state.search)


def _drop_orphans(store: FaqStore, alias: str) -> None:
    """Drop collection versions that a killed index job left behind. Only on the embedded
    store, which this process alone holds: against a server, another replica may be building
    that version right now; there the next finished index job drops them (and /ready lists them)."""
    if not store.embedded:
        return
    for orphan in store.orphan_versions(alias):
        logger.warning("dropping %s: an unfinished index version left by an interrupted job", orphan)
        store.drop(orphan)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    config = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _open_resources(app, config)
        yield
        if app.state.jobs is not None:
            app.state.jobs.wait(timeout=60)
        if app.state.store is not None:
            app.state.store.close()

    app = FastAPI(
        title="FAQ answers",
        description="Answers questions with the nearest FAQ answers: a metric-learning encoder "
        "trained with Quaterion, answers stored in Qdrant.",
        version="0.1.0",
        lifespan=lifespan,
        # Our 422 body (a readable `detail` and the `errors`), declared so the schema is true.
        responses={422: {"model": ValidationProblem, "description": "the request does not validate"}},
    )
    app.include_router(ask.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.add_middleware(
        BodySizeLimit,
        default=config.max_request_bytes,
        by_path={admin.router.prefix: config.max_upload_bytes},
    )

    @app.exception_handler(RequestValidationError)
    async def readable_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={
                "detail": "; ".join(problems) or "invalid request",
                "errors": [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                    for e in exc.errors()
                ],
            },
        )

    return app
