"""The keys of each FAQ: an owner key (the FAQ's admin routes) and public ask keys (ask,
sources and feedback only, for pages and widgets), beside the service key (ADMIN_API_KEY, which
reaches every FAQ and alone creates and deletes them).

A key is `fk_<id>_<secret>`. The store keeps the id, the FAQ, the scope and a SHA-256 of the
whole key, never the key itself: it is shown once, when created. A key is found by its id and
its hash compared in constant time. The secret has 192 random bits, so a plain hash is enough
(a slow password hash protects low-entropy secrets; this one cannot be guessed).

A key is read from the store by its id when it is first sent, and again after CACHE_SECONDS (at
once after a change made by this process), so a key revoked through another replica stops
working within that time; a request costs at most one point read, however many keys exist."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Literal

from app.store.base import FaqStore, payload_time

Scope = Literal["owner", "public"]
SCOPES: tuple[Scope, ...] = ("owner", "public")
CACHE_SECONDS = 5.0
# Key ids remembered at once (a key sent, or one found missing): random ids sent by a client
# cannot grow the memory without bound.
MAX_CACHED = 10_000
PREFIX = "fk"
MAX_LABEL = 100
# Keys a FAQ may have at once: listing and counting them reads them all (revoke one to make
# another).
MAX_KEYS_PER_FAQ = 100
_NAMESPACE = uuid.UUID("0f9d6c1e-8a4b-4b2e-a7c3-2d5e9f1b6a48")


class KeyNotFound(LookupError):
    pass


class TooManyKeys(ValueError):
    pass


@dataclass(frozen=True)
class KeyRecord:
    id: str
    faq: str
    scope: Scope
    digest: str
    created: float
    label: str = ""

    @property
    def prefix(self) -> str:
        """What identifies the key in lists, without being usable."""
        return f"{PREFIX}_{self.id}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _parse(key: str) -> str | None:
    """The key id of a key of our shape, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def _record_id(key_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key_id))


def _from_payload(payload: dict) -> KeyRecord | None:
    try:
        return KeyRecord(
            id=str(payload["id"]),
            faq=str(payload["faq"]),
            scope=payload["scope"],
            digest=str(payload["digest"]),
            created=float(payload.get("created", 0.0)),
            label=str(payload.get("label", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None  # not a key record


class KeyRing:
    def __init__(self, store: FaqStore, collection: str):
        self.store = store
        self.name = f"{collection}_keys"
        self._lock = threading.Lock()
        # key id -> (when read, its record or None for no such key)
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    def create(self, faq: str, scope: Scope, label: str = "") -> tuple[KeyRecord, str]:
        """A new key of `faq` with `scope`: its record and the key itself (shown once)."""
        if scope not in SCOPES:
            raise ValueError(f"a key's scope is one of {', '.join(SCOPES)}, not {scope!r}")
        if len(self.of(faq)) >= MAX_KEYS_PER_FAQ:
            raise TooManyKeys(f"this FAQ has {MAX_KEYS_PER_FAQ} keys, the most it may have: revoke one first")
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        record = KeyRecord(
            id=key_id,
            faq=faq,
            scope=scope,
            digest=_digest(key),
            created=payload_time(),
            label=label[:MAX_LABEL],
        )
        self.store.put_state(self.name, _record_id(key_id), asdict(record))
        self._remember(key_id, record)
        return record, key

    def of(self, faq: str) -> list[KeyRecord]:
        """The keys of `faq`, oldest first (read from the store)."""
        found = (_from_payload(payload) for _, payload, _ in self.store.records(self.name))
        return sorted((r for r in found if r is not None and r.faq == faq), key=lambda r: r.created)

    def revoke(self, faq: str, key_id: str) -> KeyRecord:
        """Remove the key `key_id` (its id or its prefix) of `faq`; KeyNotFound when `faq` has none such."""
        key_id = key_id.removeprefix(f"{PREFIX}_")
        record = self._read(key_id)
        if record is None or record.faq != faq:
            # Another FAQ's key is "not found" here, as a key that does not exist.
            raise KeyNotFound(f"this FAQ has no key {PREFIX}_{key_id}")
        self.store.delete_points(self.name, [_record_id(key_id)])
        self._remember(key_id, None)
        return record

    def drop_faq(self, faq: str) -> int:
        """Remove every key of `faq` (the FAQ is being deleted); how many there were."""
        records = self.of(faq)
        if records:
            self.store.delete_points(self.name, [_record_id(r.id) for r in records])
            for record in records:
                self._remember(record.id, None)
        return len(records)

    def resolve(self, key: str) -> KeyRecord | None:
        """The record of `key` when it is a valid key, else None."""
        key_id = _parse(key)
        if key_id is None:
            return None
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            record = cached[1]
        else:
            record = self._read(key_id)
            self._remember(key_id, record)
        if record is None:
            return None
        return record if secrets.compare_digest(_digest(key), record.digest) else None

    def _read(self, key_id: str) -> KeyRecord | None:
        payload = self.store.get_state(self.name, _record_id(key_id))
        return None if payload is None else _from_payload(payload)

    def _remember(self, key_id: str, record: KeyRecord | None) -> None:
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key_id] = (time.monotonic(), record)
