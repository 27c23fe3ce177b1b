"""The FAQs a service holds, recorded in the store (a record collection beside them), so every
replica against one Qdrant server sees the same FAQs.

The default FAQ (FAQ_DEFAULT_NAME) always exists: it is the FAQ of a store written before FAQs
had names, and it cannot be deleted."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace

from app.domain.faq_names import check_faq_name
from app.store.base import FaqStore, payload_time

_NAMESPACE = uuid.UUID("5b0c7e9a-3d1f-4a57-9b1e-6a2f4c8d0e13")


class FaqNotFound(LookupError):
    pass


class FaqExists(ValueError):
    pass


class DefaultFaqKept(ValueError):
    pass


@dataclass(frozen=True)
class FaqRecord:
    name: str
    created: float
    # Open: anyone may ask it and send feedback (the asker's page, a widget on a public site).
    # Closed: only with one of its keys (a public ask key, its owner key) or the service key.
    open: bool = True
    # The sites (origins) whose pages may put the FAQ's widget on and frame its embed page.
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_payload(cls, payload: dict) -> FaqRecord:
        return cls(
            name=str(payload["name"]),
            created=float(payload.get("created", 0.0)),
            open=bool(payload.get("open", True)),
            allowed_origins=tuple(str(o) for o in payload.get("allowed_origins") or ()),
        )


def _record_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


class FaqRegistry:
    def __init__(self, store: FaqStore, collection: str, default_name: str):
        self.store = store
        self.name = f"{collection}_faqs"
        self.default_name = check_faq_name(default_name)

    def default(self) -> FaqRecord:
        """The default FAQ: the one of a store written before FAQs had names, open as it was
        (with the widget's origins, once its owner has set them)."""
        stored = self._stored(self.default_name)
        return FaqRecord(
            name=self.default_name,
            created=0.0,
            open=True,
            allowed_origins=stored.allowed_origins if stored is not None else (),
        )

    def get(self, name: str) -> FaqRecord:
        """The FAQ called `name`; FaqNotFound when there is none."""
        if name == self.default_name:
            return self.default()
        found = self._stored(name)
        if found is None:
            raise FaqNotFound(f"there is no FAQ named '{name}'")
        return found

    def exists(self, name: str) -> bool:
        return name == self.default_name or self._stored(name) is not None

    def all(self) -> list[FaqRecord]:
        """Every FAQ, the default first, then by name."""
        others = [
            FaqRecord.from_payload(p)
            for _, p, _ in self.store.records(self.name)
            if p.get("name") and p.get("name") != self.default_name
        ]
        return [self.default(), *sorted(others, key=lambda r: r.name)]

    def create(self, name: str, *, open: bool = True) -> FaqRecord:
        check_faq_name(name)
        if self.exists(name):
            raise FaqExists(f"a FAQ named '{name}' exists already")
        record = FaqRecord(name=name, created=payload_time(), open=open)
        self.store.put_state(self.name, _record_id(name), asdict(record))
        return record

    def ensure(self, name: str) -> bool:
        """The FAQ `name` registered (as an open FAQ) unless it is; True when it was created
        now (`faq index --faq NAME` into a store with no such FAQ yet)."""
        if self.exists(name):
            return False
        self.create(name)
        return True

    def set_origins(self, name: str, origins: tuple[str, ...]) -> FaqRecord:
        """The FAQ `name` with these allowed origins (FaqNotFound)."""
        record = replace(self.get(name), allowed_origins=origins)
        self.store.put_state(self.name, _record_id(name), asdict(record))
        return record

    def remove(self, name: str) -> None:
        if name == self.default_name:
            raise DefaultFaqKept(f"the default FAQ '{name}' cannot be deleted")
        if self._stored(name) is None:
            raise FaqNotFound(f"there is no FAQ named '{name}'")
        self.store.delete_points(self.name, [_record_id(name)])

    def _stored(self, name: str) -> FaqRecord | None:
        payload = self.store.get_state(self.name, _record_id(name))
        if not payload:
            return None
        return FaqRecord.from_payload(payload)
