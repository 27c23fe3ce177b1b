"""The FAQ on other sites: the widget script (`/widget.js`, one file, no dependencies), the
page to frame (`/embed`, also under /faqs/{faq}), and the owner's list of the sites allowed to
use them (/admin/widget). Which requests a site's pages may make is app.api.cors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse

from app.api.access import OwnerDep, faq_in
from app.api.deps import TenantsDep
from app.api.routes.faqs import KEY_ERRORS, NOT_FOUND
from app.api.routes.web import STATIC_DIR
from app.api.schemas.widget import WidgetIn, WidgetOut
from app.tenancy.registry import FaqRecord

admin = APIRouter(prefix="/admin/widget", tags=["widget"], dependencies=[OwnerDep])
script = APIRouter(include_in_schema=False)
embed = APIRouter(include_in_schema=False)

# A key as KeyRing makes them (fk_<12 hex>_<urlsafe secret>): nothing else goes into the page.
PUBLIC_KEY_PATTERN = r"^fk_[0-9a-f]{12}_[A-Za-z0-9_-]{16,64}$"
# The widget script changes with a release: browsers may keep it for a few minutes.
SCRIPT_CACHE = "public, max-age=300"


def _service_url(request: Request) -> str:
    """Where this service is, as the request reached it (for the snippet the owner copies)."""
    return str(request.base_url).rstrip("/")


def _out(request: Request, record: FaqRecord, default_name: str) -> WidgetOut:
    service = _service_url(request)
    faq = "" if record.name == default_name else f' data-faq="{record.name}"'
    prefix = "" if record.name == default_name else f"/faqs/{record.name}"
    return WidgetOut(
        allowed_origins=list(record.allowed_origins),
        snippet=f'<script src="{service}/widget.js"{faq} data-key="PUBLIC_KEY" async></script>',
        embed_url=f"{service}{prefix}/embed",
    )


@admin.get("", response_model=WidgetOut, responses={**KEY_ERRORS, **NOT_FOUND})
async def get_widget(request: Request, tenants: TenantsDep) -> WidgetOut:
    """The sites allowed to use this FAQ's widget and embed page, and the snippet to add."""
    record = await run_in_threadpool(tenants.record, faq_in(request))
    return _out(request, record, tenants.default_name)


@admin.put("", response_model=WidgetOut, responses={**KEY_ERRORS, **NOT_FOUND})
async def set_widget(body: WidgetIn, request: Request, tenants: TenantsDep) -> WidgetOut:
    """Set the sites (origins) allowed to use this FAQ's widget and frame its embed page: every
    other site's requests are refused (403), and browsers frame the page on these alone."""
    record = await run_in_threadpool(tenants.set_origins, faq_in(request), tuple(body.allowed_origins))
    return _out(request, record, tenants.default_name)


@script.api_route("/widget.js", methods=["GET", "HEAD"])
def widget_script() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "widget.js",
        media_type="text/javascript",
        headers={"Cache-Control": SCRIPT_CACHE, "Cross-Origin-Resource-Policy": "cross-origin"},
    )


@embed.api_route("/embed", methods=["GET", "HEAD"])
async def embed_page(
    request: Request,
    tenants: TenantsDep,
    key: Annotated[
        str | None,
        Query(pattern=PUBLIC_KEY_PATTERN, max_length=100, description="A public key, for a closed FAQ."),
    ] = None,
) -> HTMLResponse:
    """The FAQ's widget as a whole page, for an iframe: framed by this service's own pages and
    the FAQ's allowed sites only (Content-Security-Policy frame-ancestors)."""
    faq = faq_in(request)
    record = await run_in_threadpool(tenants.record, faq)
    ancestors = " ".join(["'self'", *record.allowed_origins])
    name = "" if faq == tenants.default_name else f' data-faq="{faq}"'
    if key:
        name += f' data-key="{key}"'  # its shape checked: no quote can be in it
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>FAQ</title></head>'
        f'<body style="margin:0"><script src="/widget.js"{name} data-mode="inline"></script></body></html>'
    )
    policy = f"default-src 'self'; frame-ancestors {ancestors}; base-uri 'none'"
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})
