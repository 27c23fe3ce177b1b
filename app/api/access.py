"""Who may do what, by the key a request carries (X-API-Key):

- the service key (ADMIN_API_KEY) reaches every FAQ, and alone creates and deletes FAQs;
- a FAQ's owner key reaches that FAQ's admin routes (entries, review, import, versions...);
- a FAQ's public ask key may ask it and send feedback (for a closed FAQ, or a widget);
- an open FAQ (the default) is asked by anyone.

A refusal never says what another FAQ holds: a key of another FAQ is refused with the same
words whether or not the FAQ in the path exists."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Path, Request, status
from fastapi.routing import APIRoute

from app.config import FAQ_NAME_PATTERN, ServiceSettings
from app.tenancy.tenants import Tenants

KEY_HEADER = Header(description="The service key (ADMIN_API_KEY), or a key of this FAQ.")


@dataclass(frozen=True)
class Access:
    scope: Literal["service", "owner", "public"]
    faq: str | None  # None: the service key, every FAQ


def faq_in(request: Request) -> str:
    """The FAQ a request is for: the one in its path (/faqs/{faq}/...), else the default."""
    faq = request.path_params.get("faq")
    return str(faq) if faq else request.app.state.settings.faq_default_name


def access_of(settings: ServiceSettings, tenants: Tenants | None, key: str | None) -> Access | None:
    """What `key` grants, or None (no key, or not a key of this service)."""
    if not key:
        return None
    if settings.admin_api_key is not None:
        # Compared as bytes: the header arrives as latin-1 text, and compare_digest refuses
        # non-ASCII str (a key like "ключ" would otherwise be a 500).
        sent = key.encode("latin-1", errors="replace")
        if secrets.compare_digest(sent, settings.admin_api_key.get_secret_value().encode("utf-8")):
            return Access("service", None)
    if tenants is None:
        return None
    record = tenants.keys.resolve(key)
    return None if record is None else Access(record.scope, record.faq)


def _tenants(request: Request) -> Tenants | None:
    return getattr(request.app.state, "tenants", None)


def _unauthorised(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        f"{what} needs the X-API-Key header",
        headers={"WWW-Authenticate": "X-API-Key"},
    )


def _admin_enabled(settings: ServiceSettings) -> None:
    if settings.admin_api_key is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin endpoints are disabled: the server has no ADMIN_API_KEY configured",
        )


def known_key(request: Request, key: str | None, what: str = "this endpoint") -> Access:
    """What the key sent reaches: 403 when admin endpoints are off (no ADMIN_API_KEY) or the key
    is no key of this service, 401 (saying that `what` needs one) without one."""
    settings: ServiceSettings = request.app.state.settings
    _admin_enabled(settings)
    if not key:
        raise _unauthorised(what)
    access = access_of(settings, _tenants(request), key)
    if access is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong API key")
    return access


def check_owner(request: Request, key: str | None) -> Access:
    """The request may use the admin routes of the FAQ in its path (else 401/403)."""
    access = known_key(request, key)
    if access.scope == "service":
        return access
    if access.faq != faq_in(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this key is not a key of this FAQ")
    if access.scope != "owner":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a public ask key may only ask and send feedback")
    return access


def require_owner(request: Request, x_api_key: Annotated[str | None, KEY_HEADER] = None) -> Access:
    return check_owner(request, x_api_key)


def require_service(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="The service key (ADMIN_API_KEY).")] = None,
) -> Access:
    """The request carries the service key (creating, listing and deleting FAQs)."""
    access = known_key(request, x_api_key)
    if access.scope != "service":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint needs the service key (ADMIN_API_KEY)")
    return access


def require_asker(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="For a closed FAQ: one of its keys.")] = None,
) -> None:
    """The request may ask the FAQ in its path: anyone for an open FAQ, else a key of it. A key
    sent is checked either way (another FAQ's key is refused), and a public key spends its
    budgets: all its askers together, and each asker (a widget's key is on every visitor's
    page)."""
    tenants = _tenants(request)
    if tenants is None:
        return  # the model or the store is missing: the route's own dependencies say so (503)
    faq = faq_in(request)
    record = tenants.record(faq)  # FaqNotFound: 404 (a FAQ's name is no secret: askers use it)
    if record.open and not x_api_key:
        return
    access = known_key(request, x_api_key, "this FAQ is closed: asking it")
    if access.scope != "service" and access.faq != faq:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this key is not a key of this FAQ")
    if access.scope == "public":
        key_id = (x_api_key or "").split("_")[1]
        budgets = tenants.public_budgets
        if not budgets.per_key.allow(key_id) or not budgets.per_client.allow(
            f"{key_id} {request.app.state.proxies.of(request)}"
        ):
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "this public key's budget is spent for now: try again in a minute",
                headers={"Retry-After": "60"},
            )


OwnerDep = Depends(require_owner)
ServiceDep = Depends(require_service)
AskerDep = Depends(require_asker)


def may_upload(state: object, faq: str | None, sent: bytes) -> bool:
    """Whether a request to the FAQ `faq` (None: the default) with the key `sent` may send an
    upload-sized body: the service key, or that FAQ's owner key (app.api.body_limit)."""
    settings: ServiceSettings = getattr(state, "settings")  # noqa: B009 - the app's state object
    if settings.admin_api_key is None:
        return False
    access = access_of(settings, getattr(state, "tenants", None), sent.decode("latin-1"))
    if access is None or access.scope == "public":
        return False
    return access.scope == "service" or access.faq == (faq or settings.faq_default_name)


def faq_path(faq: Annotated[str, Path(pattern=FAQ_NAME_PATTERN, description="The FAQ's name.")]) -> str:
    """The FAQ's name in the path, declared and checked for its shape (422). Whether the FAQ
    exists is asked after the key is checked (by the route's services: 404), so a key of another
    FAQ is refused alike whether or not this one exists."""
    return faq


def require_known_faq(request: Request, faq: Annotated[str, Depends(faq_path)]) -> None:
    """The FAQ in the path exists (404 otherwise): for its pages, which need no key."""
    tenants = _tenants(request)
    if tenants is not None:
        tenants.record(faq)


def faq_route_id(route: APIRoute) -> str:
    """Operation ids of the /faqs/{faq} copies of the routes: unique beside the originals'."""
    return f"faq_{route.name}_{'_'.join(sorted(route.methods or []))}".lower()


KnownFaqDep = Depends(require_known_faq)
FaqPathDep = Depends(faq_path)


# What the asker's routes may answer besides their own: a closed FAQ asked without one of its
# keys (or an admin's `version` without the owner's key).
ASKER_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"description": "a closed FAQ, or a version asked, without X-API-Key"},
    403: {"description": "a key that is not one of this FAQ's"},
}
