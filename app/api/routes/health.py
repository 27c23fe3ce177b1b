from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from app.api.deps import admin_key_matches
from app.api.errors import hide_paths
from app.api.schemas.ask import HealthResponse, ReadyResponse
from app.config import ServiceSettings
from app.store.base import StoreError

router = APIRouter(tags=["health"])


# HEAD too (orchestrators and load balancers probe with it), left out of the schema so each
# operation keeps one id.
@router.head("/health", include_in_schema=False)
@router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    """The process is alive."""
    return HealthResponse(status="ok")


@router.head("/ready", include_in_schema=False)
@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
def ready(
    request: Request,
    response: Response,
    x_api_key: Annotated[str | None, Header(description="With the admin key: file paths too.")] = None,
) -> ReadyResponse:
    """Ready to answer: the servable is loaded, the store reachable and the collection indexed.
    Where the servable and the store live (file paths) is shown with the admin key only."""
    state = request.app.state
    settings = state.settings
    result = ReadyResponse(status="ready", alias=settings.collection, store=settings.describe())
    if state.servable is None:
        result.problems.append(f"servable not loaded: {state.servable_error}")
    else:
        result.servable, result.device = str(state.servable.path), state.servable.device
    if state.store is None:
        result.problems.append(f"store not open: {state.store_error}")
    else:
        try:
            info = state.store.collection_info(settings.collection)
            result.collection, result.points = info.collection, info.points
            if info.points == 0:
                result.problems.append(f"collection '{settings.collection}' is empty")
            result.unfinished_versions = state.store.orphan_versions(settings.collection)
        except StoreError as exc:
            result.problems.append(str(exc))
    if result.problems:
        result.status = "not ready"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if not admin_key_matches(settings, x_api_key):
        _hide_locations(result, settings)
    return result


def _hide_locations(result: ReadyResponse, settings: ServiceSettings) -> None:
    """Paths say how the machine is laid out: anyone may ask /ready, only the admin sees them."""
    places = sorted(
        {str(p) for p in (settings.servable, settings.embedded_path) if p is not None}
        | {str(Path(p).resolve()) for p in (settings.servable, settings.embedded_path) if p is not None},
        key=len,
        reverse=True,
    )

    def scrub(text: str) -> str:
        for place in places:
            text = text.replace(place, "<path>")
        return hide_paths(text)

    result.servable = None
    result.store = "Qdrant server" if settings.qdrant_url else "embedded Qdrant"
    result.problems = [scrub(problem) for problem in result.problems]
