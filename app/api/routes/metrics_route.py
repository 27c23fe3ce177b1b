from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency by route and status, micro-batch sizes, queue
    depth, embedding cache hits, index size."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
