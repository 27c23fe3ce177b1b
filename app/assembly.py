"""Where a FAQ's search is put together, for the service, the commands, the benchmarks and the
studies alike: the servable loaded as the settings say, over a store (the configured one, or an
empty scratch one), with the search the servable records unless told otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.config import ModelSettings, StoreSettings
from app.domain.faq_names import store_alias
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.search.settings import SearchSettings
from app.store.base import FaqStore
from app.store.opening import open_store, scratch_store


def load_servable(model: ModelSettings) -> Servable:
    """The servable of FAQ_SERVABLE on DEVICE in FAQ_RUNTIME (ServableError when unusable)."""
    return Servable.load(model.servable, device=model.device, runtime=model.runtime)


def search_over(
    servable: Servable,
    store: FaqStore,
    alias: str,
    settings: SearchSettings | None = None,
    *,
    cache_size: int = 0,
) -> FaqSearch:
    """The search of `alias` in `store` (the servable's recorded settings unless given)."""
    return FaqSearch(servable, store, alias, settings, cache_size=cache_size)


@contextmanager
def opened_search(store: StoreSettings, servable: Servable, faq: str | None = None) -> Iterator[FaqSearch]:
    """The configured store opened (StoreError when it cannot be), the search of the FAQ `faq`
    (None: the default one) over it, and the store closed after."""
    opened = open_store(store)
    try:
        yield search_over(servable, opened, store_alias(store, faq))
    finally:
        opened.close()


def scratch_search(
    servable: Servable, settings: SearchSettings | None = None, alias: str = "scratch", *, cache_size: int = 0
) -> FaqSearch:
    """A search over an empty store of its own (removed when its store is closed): where
    evaluation, calibration, benchmarks and studies index a FAQ."""
    return search_over(servable, scratch_store(), alias, settings, cache_size=cache_size)
