"""The FAQs of the service (/admin/faqs: the service key only), the keys of each FAQ
(/admin/keys, also under /faqs/{faq}: its owner key or the service key), and what a key
reaches (/admin/key: any key, for the owner's page)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from app.api.access import OwnerDep, ServiceDep, faq_in, known_key
from app.api.deps import TenantsDep
from app.api.schemas.common import Problem
from app.api.schemas.tenancy import (
    AccessOut,
    FaqCreate,
    FaqDeleted,
    FaqList,
    FaqOut,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
)
from app.tenancy.keys import KeyRecord
from app.tenancy.tenants import FaqSummary

KEY_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no X-API-Key header"},
    403: {"model": Problem, "description": "a key that does not reach this, or admin endpoints disabled"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such FAQ or key"}}

faqs = APIRouter(prefix="/admin/faqs", tags=["faqs"], dependencies=[ServiceDep])
keys = APIRouter(prefix="/admin/keys", tags=["faqs"], dependencies=[OwnerDep])
key = APIRouter(prefix="/admin", tags=["faqs"])


def _faq(summary: FaqSummary, default_name: str) -> FaqOut:
    record = summary.record
    base = "" if record.name == default_name else f"/faqs/{record.name}"
    return FaqOut(
        name=record.name,
        open=record.open,
        default=record.name == default_name,
        entries=summary.entries,
        created=record.created,
        asker_page=f"{base}/",
        owner_page=f"{base}/admin" if base else "/admin",
    )


def _key(record: KeyRecord) -> KeyOut:
    return KeyOut(
        id=record.id,
        prefix=record.prefix,
        faq=record.faq,
        scope=record.scope,
        label=record.label,
        created=record.created,
    )


@faqs.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FaqOut,
    responses={**KEY_ERRORS, 409: {"model": Problem, "description": "a FAQ of this name exists"}},
)
async def create_faq(body: FaqCreate, tenants: TenantsDep) -> FaqOut:
    """A new, empty FAQ: its routes are /faqs/{name}/... (ask it, import its entries, give it
    keys). It answers "no answer" until it has entries."""
    record = await run_in_threadpool(tenants.create, body.name, open=body.open)  # FaqExists: 409
    return _faq(FaqSummary(record, 0), tenants.default_name)


@faqs.get("", response_model=FaqList, responses=KEY_ERRORS)
async def list_faqs(
    tenants: TenantsDep,
    after: Annotated[str, Query(max_length=64, description="The `next_after` of the page before.")] = "",
    limit: Annotated[int, Query(ge=1, le=1000, description="FAQs a page.")] = 100,
) -> FaqList:
    """The FAQs of the service with their numbers of entries, the default first, then by name,
    a page at a time (`next_after` continues; null on the last page)."""
    summaries, following = await run_in_threadpool(partial(tenants.summaries, after=after, limit=limit))
    return FaqList(faqs=[_faq(s, tenants.default_name) for s in summaries], next_after=following)


@faqs.delete(
    "/{faq}",
    response_model=FaqDeleted,
    responses={**KEY_ERRORS, **NOT_FOUND, 409: {"model": Problem, "description": "the default FAQ is kept"}},
)
async def delete_faq(faq: str, tenants: TenantsDep) -> FaqDeleted:
    """Delete the FAQ and everything of it: entries, versions, review marks, feedback, ask log,
    unanswered questions, and its keys. Not undone."""
    removal = await run_in_threadpool(tenants.delete, faq)  # FaqNotFound: 404; the default: 409
    return FaqDeleted(name=faq, collections_dropped=len(removal.collections), keys_revoked=removal.keys)


@keys.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    responses={
        **KEY_ERRORS,
        **NOT_FOUND,
        409: {"model": Problem, "description": "the FAQ has as many keys as it may"},
    },
)
async def create_key(body: KeyCreate, request: Request, tenants: TenantsDep) -> KeyCreated:
    """A new key of this FAQ: `owner` (its admin routes) or `public` (ask and feedback only).
    The key is in the answer this once; the service keeps only its hash."""
    faq = faq_in(request)
    tenants.record(faq)  # FaqNotFound: 404 (for the service key: an owner key is of an existing FAQ)
    record, secret = await run_in_threadpool(tenants.keys.create, faq, body.scope, body.label)
    return KeyCreated(**_key(record).model_dump(), key=secret)


@keys.get("", response_model=KeyList, responses={**KEY_ERRORS, **NOT_FOUND})
async def list_keys(request: Request, tenants: TenantsDep) -> KeyList:
    """The keys of this FAQ, by prefix (never the keys themselves)."""
    faq = faq_in(request)
    tenants.record(faq)
    records = await run_in_threadpool(tenants.keys.of, faq)
    return KeyList(keys=[_key(r) for r in records])


@keys.delete("/{key_id}", response_model=KeyOut, responses={**KEY_ERRORS, **NOT_FOUND})
async def revoke_key(key_id: str, request: Request, tenants: TenantsDep) -> KeyOut:
    """Revoke a key of this FAQ (its id or prefix): it stops working at once on this replica,
    within seconds on others."""
    faq = faq_in(request)
    record = await run_in_threadpool(tenants.keys.revoke, faq, key_id)  # KeyNotFound: 404
    return _key(record)


@key.get("/key", response_model=AccessOut, responses=KEY_ERRORS)
def what_the_key_reaches(
    request: Request,
    tenants: TenantsDep,
    x_api_key: Annotated[str | None, Header(description="Any key of this service.")] = None,
) -> AccessOut:
    """What the key in X-API-Key reaches: the service key (every FAQ), or one FAQ's owner or
    public key. The owner's page asks it to know which FAQ to show."""
    access = known_key(request, x_api_key)
    return AccessOut(scope=access.scope, faq=access.faq)
