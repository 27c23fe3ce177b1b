"""The FAQs of a service and their keys, as kept in the store, on every engine (Qdrant Edge,
qdrant-client's local mode, and a Qdrant server when QDRANT_TEST_URL is set): what another
replica over the same store sees, and that no key is kept in the clear."""

import json

import pytest

from app.domain.faq_names import BadFaqName, alias_of, owns
from app.tenancy import keys as keys_module
from app.tenancy.keys import KeyNotFound, KeyRing, TooManyKeys
from app.tenancy.registry import DefaultFaqKept, FaqExists, FaqNotFound, FaqRegistry
from tests.app.store.test_store_contract import alias, store  # noqa: F401 - the engines' fixtures


def test_the_registry_keeps_the_faqs_and_the_default_one_always(store, alias):  # noqa: F811
    registry = FaqRegistry(store, alias, "default")
    assert [r.name for r in registry.all()] == ["default"] and registry.exists("default")
    assert registry.create("hr", open=False).name == "hr"
    registry.create("it")
    with pytest.raises(FaqExists):
        registry.create("hr")
    for bad in ("HR", "a_b", "", "x" * 65, "hr team"):
        with pytest.raises(BadFaqName):
            registry.create(bad)
    with pytest.raises(DefaultFaqKept):
        registry.remove("default")
    # another replica over the same store sees the same FAQs
    other = FaqRegistry(store, alias, "default")
    assert [(r.name, r.open) for r in other.all()] == [("default", True), ("hr", False), ("it", True)]
    other.remove("hr")
    assert not registry.exists("hr") and [r.name for r in registry.all()] == ["default", "it"]
    with pytest.raises(FaqNotFound):
        registry.remove("hr")
    with pytest.raises(FaqNotFound):
        registry.get("hr")


def test_keys_are_kept_hashed_found_by_their_secret_and_revoked(store, alias, monkeypatch):  # noqa: F811
    ring = KeyRing(store, alias)
    record, secret = ring.create("hr", "owner", label="the HR team")
    public, public_secret = ring.create("hr", "public")
    ring.create("it", "owner")
    assert ring.resolve(secret) == record and ring.resolve(public_secret).scope == "public"
    assert record.prefix == f"fk_{record.id}" and secret.startswith(record.prefix + "_")
    # the same id with another secret, a truncated key, and junk: none is a key
    assert ring.resolve(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert ring.resolve(secret[:-3]) is None and ring.resolve("not a key") is None
    # the store holds hashes, never the keys
    stored = json.dumps([payload for _, payload, _ in store.records(ring.name)])
    assert secret not in stored and public_secret not in stored and record.digest in stored
    assert [k.id for k in ring.of("hr")] == [record.id, public.id]
    with pytest.raises(ValueError, match="scope"):
        ring.create("hr", "admin")  # type: ignore[arg-type]

    # another replica: a key made here is found there at once (read by its id), and one revoked
    # here stops there when it reads the key again
    replica = KeyRing(store, alias)
    assert replica.resolve(secret) == record
    with pytest.raises(KeyNotFound):
        ring.revoke("it", record.id)  # hr's key, asked through another FAQ: not found there
    ring.revoke("hr", record.prefix)
    assert ring.resolve(secret) is None
    monkeypatch.setattr(keys_module, "CACHE_SECONDS", 0.0)
    assert replica.resolve(secret) is None
    assert ring.drop_faq("hr") == 1 and ring.of("hr") == [] and len(ring.of("it")) == 1


def test_a_faq_has_a_bounded_number_of_keys(store, alias, monkeypatch):  # noqa: F811
    monkeypatch.setattr(keys_module, "MAX_KEYS_PER_FAQ", 3)
    ring = KeyRing(store, alias)
    made = [ring.create("hr", "public")[0] for _ in range(3)]
    with pytest.raises(TooManyKeys, match="revoke one first"):
        ring.create("hr", "public")
    ring.create("it", "public")  # another FAQ's keys do not count
    ring.revoke("hr", made[0].id)
    assert ring.create("hr", "owner")[0].scope == "owner"


def test_a_faqs_collections_are_named_apart_from_every_other_faqs():
    default = alias_of("default", collection="faq", default_name="default")
    hr = alias_of("hr", collection="faq", default_name="default")
    hr_team = alias_of("hr-team", collection="faq", default_name="default")
    assert (default, hr, hr_team) == ("faq", "faq--hr", "faq--hr-team")
    assert owns(hr, "faq--hr_v20261204T000000000000_abcdef") and owns(hr, "faq--hr_asks")
    # no FAQ's prefix takes another's collections, nor the default's or the service's own
    for name in (
        "faq--hr-team_asks",
        "faq_asks",
        "faq_faqs",
        "faq_keys",
        "faq_v20261204T000000000000_abcdef",
    ):
        assert not owns(hr, name), name
