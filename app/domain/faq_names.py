"""What a FAQ may be called, and where its data lives in the store.

A FAQ's data lives under an alias of its own: the default FAQ under the configured collection
name (FAQ_COLLECTION, so a store written before FAQs had names opens as the default one with
nothing moved), every other FAQ under `{collection}--{name}`. Every collection of a FAQ is
named from its alias (versions `{alias}_v...`, records `{alias}_jobs`, `_asks`...), and a name
has no underscore, so no FAQ's names are a prefix of another's."""

from __future__ import annotations

import re

from app.config import FAQ_NAME_PATTERN, StoreSettings

_FAQ_NAME = re.compile(FAQ_NAME_PATTERN)
SEPARATOR = "--"


class BadFaqName(ValueError):
    pass


def check_faq_name(name: str) -> str:
    """`name` when it is a valid FAQ name; BadFaqName saying the rule otherwise."""
    if not isinstance(name, str) or not _FAQ_NAME.fullmatch(name):
        raise BadFaqName("a FAQ name is 1 to 64 characters, each a lowercase letter, a digit or '-'")
    return name


def is_faq_name(name: str) -> bool:
    return isinstance(name, str) and _FAQ_NAME.fullmatch(name) is not None


def alias_of(name: str, *, collection: str, default_name: str) -> str:
    """The alias (and the prefix of every collection) of the FAQ `name`."""
    return collection if name == default_name else f"{collection}{SEPARATOR}{name}"


def store_alias(settings: StoreSettings, faq: str | None) -> str:
    """Where the FAQ `faq` (None: the default one) lives in the configured store."""
    name = faq or settings.faq_default_name
    return alias_of(name, collection=settings.collection, default_name=settings.faq_default_name)


def owns(alias: str, collection_name: str) -> bool:
    """True when `collection_name` is one of the collections of the FAQ under `alias`."""
    return collection_name.startswith(f"{alias}_")
