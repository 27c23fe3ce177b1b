"""The FAQs of a service and their keys (/admin/faqs, /admin/keys, /admin/key)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas.common import strict_body
from app.config import FAQ_NAME_PATTERN
from app.tenancy.keys import MAX_LABEL


class FaqCreate(BaseModel):
    model_config = strict_body({"name": "hr", "open": True})

    name: str = Field(
        pattern=FAQ_NAME_PATTERN,
        description="1 to 64 lowercase letters, digits or '-': the FAQ's routes are /faqs/{name}/...",
    )
    open: bool = Field(
        default=True,
        description="Anyone may ask it (true), or only with one of its keys (false).",
    )


class FaqOut(BaseModel):
    name: str
    open: bool
    default: bool = Field(description="The FAQ that the routes without /faqs/{faq} serve.")
    entries: int
    created: float = Field(description="Unix time; 0 for the default FAQ.")
    asker_page: str
    owner_page: str


class FaqList(BaseModel):
    faqs: list[FaqOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null: the last page.")


class FaqDeleted(BaseModel):
    name: str
    collections_dropped: int
    keys_revoked: int


class KeyCreate(BaseModel):
    model_config = strict_body(
        {"scope": "owner", "label": "the HR team"}, {"scope": "public", "label": "widget"}
    )

    scope: Literal["owner", "public"] = Field(
        description="owner: the FAQ's admin routes; public: asking it and sending feedback only."
    )
    label: str = Field(default="", max_length=MAX_LABEL, description="What the key is for (shown in lists).")


class KeyOut(BaseModel):
    id: str
    prefix: str = Field(description="How the key begins: enough to tell keys apart, not to use one.")
    faq: str
    scope: Literal["owner", "public"]
    label: str
    created: float


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


class KeyList(BaseModel):
    keys: list[KeyOut]


class AccessOut(BaseModel):
    scope: Literal["service", "owner", "public"]
    faq: str | None = Field(description="The FAQ the key belongs to; null for the service key (every FAQ).")
