"""Many FAQs in one service, over HTTP: FAQs created, listed and deleted with the service key;
each FAQ's routes under /faqs/{faq}; owner and public keys; per-FAQ budgets; and the key matrix:
every FAQ route x every kind of key, proving that no key reads or changes another FAQ's data,
through the path or through ids of the other FAQ's entries, review items, versions, jobs and
keys."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, settings_for, wait_for_job

SERVICE = {"X-API-Key": ADMIN_KEY}
ALPHA, BETA = "alpha-team", "beta-team"
# Words found only in beta's entries: a response to anyone but beta's keys must not hold them.
MARKER = "zebrafinch"
BETA_ENTRIES = [
    {"question": f"where do i park the {MARKER} van?", "answer": f"the {MARKER} van parks behind building c"},
    {"question": f"who feeds the {MARKER} birds?", "answer": f"the {MARKER} keeper feeds them at noon"},
    {"question": f"how do i book the {MARKER} room?", "answer": f"book the {MARKER} room on the intranet"},
]
ALPHA_ENTRIES = [
    {"question": "how do i reset my laptop password?", "answer": "use the self-service portal at it.example"},
    {
        "question": "who approves holiday requests?",
        "answer": "your line manager approves them in the hr tool",
    },
]


def _key(client, faq: str, scope: str, headers=SERVICE) -> str:
    response = client.post(f"/faqs/{faq}/admin/keys", json={"scope": scope, "label": scope}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["key"]


@pytest.fixture(scope="module")
def two_faqs(client):
    """alpha (closed: asked only with a key) and beta (open), each with entries and keys; beta
    also with a finished reindex job and its version, an unanswered question in its review
    queue, feedback and an ask log."""
    assert client.post("/admin/faqs", json={"name": ALPHA, "open": False}, headers=SERVICE).status_code == 201
    assert client.post("/admin/faqs", json={"name": BETA}, headers=SERVICE).status_code == 201
    keys = {
        "alpha_owner": _key(client, ALPHA, "owner"),
        "alpha_public": _key(client, ALPHA, "public"),
        "beta_owner": _key(client, BETA, "owner"),
        "beta_public": _key(client, BETA, "public"),
    }
    beta = {"X-API-Key": keys["beta_owner"]}
    alpha = {"X-API-Key": keys["alpha_owner"]}
    assert client.post(f"/faqs/{ALPHA}/faq/entries", json=ALPHA_ENTRIES, headers=alpha).status_code == 201
    created = client.post(f"/faqs/{BETA}/faq/entries", json=BETA_ENTRIES, headers=beta)
    assert created.status_code == 201, created.text
    body = "\n".join(json.dumps(e) for e in BETA_ENTRIES).encode()
    job = client.post(
        f"/faqs/{BETA}/admin/reindex", content=body, headers={"Content-Type": "application/x-ndjson", **beta}
    ).json()
    job = wait_for_job(client, job, faq=BETA, headers=beta)
    for _ in range(2):
        assert (
            client.post(f"/faqs/{BETA}/ask", json={"question": "what is the wifi password?"}).status_code
            == 200
        )
    asked = client.post(f"/faqs/{BETA}/ask", json={"question": f"where can the {MARKER} van park?"}).json()
    entry_id = asked["answers"][0]["id"] if asked["answers"] else asked["suggestions"][0]["id"]
    feedback = {"question": f"{MARKER} van parking", "entry_id": entry_id, "helpful": False}
    assert client.post(f"/faqs/{BETA}/feedback", json=feedback).status_code == 201
    review = client.get(f"/faqs/{BETA}/admin/review", headers=beta).json()["items"]
    versions = client.get(f"/faqs/{BETA}/admin/versions", headers=beta).json()["versions"]
    beta_keys = client.get(f"/faqs/{BETA}/admin/keys", headers=beta).json()["keys"]
    assert review and versions and len(beta_keys) == 2
    ids = {
        "entry_id": entry_id,
        "item_id": review[0]["id"],
        "name": versions[0]["name"],
        "job_id": job["id"],
        "key_id": beta_keys[0]["id"],
    }
    return keys, ids


def _beta_snapshot(client) -> dict:
    """Everything beta holds, read with the service key."""
    reads = [
        "/faq/entries",
        "/admin/versions",
        "/admin/keys",
        "/admin/review",
        "/admin/unanswered",
        "/admin/feedback",
        "/sources",
        "/admin/rule",
    ]
    snapshot = {}
    for path in reads:
        response = client.get(f"/faqs/{BETA}{path}", headers=SERVICE)
        assert response.status_code == 200, (path, response.text)
        snapshot[path] = response.text if path == "/admin/feedback" else response.json()
    return snapshot


BODIES = {
    ("POST", "/ask"): {"question": "how do i reset my laptop password?"},
    ("POST", "/feedback"): {"question": "laptop password", "entry_id": "{entry_id}", "helpful": True},
    ("POST", "/faq/entries"): {"question": "where is the canteen?", "answer": "on the ground floor"},
    ("PUT", "/faq/entries/{entry_id}"): {"answer": "changed by someone else"},
    ("POST", "/faq/entries/{entry_id}/alternates"): {"wordings": ["someone else's wording"]},
    ("POST", "/admin/review/{item_id}"): {"action": "dismiss"},
    ("POST", "/admin/keys"): {"scope": "public"},
    ("PUT", "/admin/widget"): {"allowed_origins": ["https://shop.example"]},
}
QUERIES = {("DELETE", "/faq/entries/{entry_id}/alternates"): "?wording=someone+else%27s+wording"}
UPLOADS = {("POST", "/admin/reindex"), ("POST", "/admin/import"), ("POST", "/admin/test")}
ASKER_ROUTES = {("POST", "/ask"), ("GET", "/sources"), ("POST", "/feedback")}
PAGES = {("GET", "/"), ("GET", "/admin")}


def _faq_routes(app) -> list[tuple[str, str]]:
    """(method, path after /faqs/{faq}) of every route of a FAQ: the API's, as its OpenAPI
    document lists them, and the two pages."""
    found = sorted(PAGES)
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/faqs/{faq}/"):
            found += [(method.upper(), path.removeprefix("/faqs/{faq}")) for method in sorted(operations)]
    return found


def _request(client, method: str, path: str, faq: str, ids: dict, headers: dict):
    url = f"/faqs/{faq}{path}".format(**ids) + QUERIES.get((method, path), "")
    body = BODIES.get((method, path))
    if body is not None:
        body = json.loads(json.dumps(body).replace("{entry_id}", ids["entry_id"]))
        return client.request(method, url, json=body, headers=headers), url + json.dumps(body)
    if (method, path) in UPLOADS:
        upload = "\n".join(json.dumps(e) for e in ALPHA_ENTRIES).encode()
        return client.request(
            method, url, content=upload, headers={"Content-Type": "application/x-ndjson", **headers}
        ), url
    return client.request(method, url, headers=headers), url


def test_every_faq_route_with_every_kind_of_key(client, two_faqs):
    keys, ids = two_faqs
    before = _beta_snapshot(client)
    secrets_of_beta = [MARKER, keys["beta_owner"], keys["beta_public"], *ids.values()]
    kinds = {
        "no key": {},
        "another FAQ's owner key": {"X-API-Key": keys["beta_owner"]},
        "another FAQ's public key": {"X-API-Key": keys["beta_public"]},
        "a public key": {"X-API-Key": keys["alpha_public"]},
        "the FAQ's owner key": {"X-API-Key": keys["alpha_owner"]},
        "the service key": SERVICE,
    }
    routes = _faq_routes(client.app)
    # every FAQ route of the API is in the matrix: the ask routes, entries, wordings, review,
    # import, reindex, versions, test sets, insights, unanswered, feedback, the rule and keys
    assert len(routes) >= 30 and ("POST", "/admin/versions/{name}/activate") in routes
    checked = 0
    for method, path in routes:
        for kind, headers in kinds.items():
            response, sent = _request(client, method, path, ALPHA, ids, headers)
            code = response.status_code
            where = f"{method} {path} with {kind}: {code} {response.text[:200]}"
            assert code < 500, where
            for secret in secrets_of_beta:
                assert secret in sent or secret not in response.text, where
            if (method, path) in PAGES:
                assert code == 200, where
            elif kind == "no key":
                assert code == 401, where
            elif kind.startswith("another FAQ's"):
                assert code == 403, where
            elif kind == "a public key":
                assert code == 403 if (method, path) not in ASKER_ROUTES else code not in (401, 403), where
            else:
                assert code not in (401, 403), where
                if "{" in path and (method, path) not in ASKER_ROUTES:
                    # beta's ids, sent to alpha's routes by alpha's owner or the service key
                    assert code == 404, where
            checked += 1
    assert checked == len(routes) * len(kinds)
    # beta's version, asked through alpha by alpha's owner: not found there
    probe = client.post(
        f"/faqs/{ALPHA}/ask",
        json={"question": "van", "version": ids["name"]},
        headers={"X-API-Key": keys["alpha_owner"]},
    )
    assert probe.status_code == 404 and MARKER not in probe.text
    assert _beta_snapshot(client) == before  # nothing of beta changed


def test_a_key_of_another_faq_cannot_tell_whether_a_faq_exists(client, two_faqs):
    """The owner's routes check the key before the FAQ: sent to a FAQ that does not exist, a
    missing or foreign key is refused exactly as for one that does (401/403, same words); only
    the service key learns 404. The asker's routes and the pages say 404: a FAQ's name is what
    its askers use."""
    keys, ids = two_faqs
    kinds = {
        "no key": {},
        "another FAQ's owner key": {"X-API-Key": keys["beta_owner"]},
        "another FAQ's public key": {"X-API-Key": keys["beta_public"]},
    }
    for method, path in _faq_routes(client.app):
        for kind, headers in kinds.items():
            there, _ = _request(client, method, path, ALPHA, ids, headers)
            missing, _ = _request(client, method, path, "no-such-faq", ids, headers)
            where = f"{method} {path} with {kind}: {there.status_code} / {missing.status_code} {missing.text}"
            if (method, path) in PAGES or (method, path) in ASKER_ROUTES:
                assert missing.status_code == 404, where
            else:
                assert (missing.status_code, missing.json()) == (there.status_code, there.json()), where
        if (method, path) not in PAGES:
            response, _ = _request(client, method, path, "no-such-faq", ids, SERVICE)
            assert response.status_code == 404, (method, path, response.text)


def test_keys_of_a_faq_do_not_reach_the_default_faq_or_the_service_routes(client, two_faqs):
    keys, _ = two_faqs
    for name in ("alpha_owner", "alpha_public"):
        headers = {"X-API-Key": keys[name]}
        for method, path in [
            ("GET", "/faq/entries"),
            ("GET", "/admin/review"),
            ("GET", "/admin/faqs"),
            ("POST", "/admin/faqs"),
            ("DELETE", f"/admin/faqs/{BETA}"),
            ("GET", "/admin/keys"),
        ]:
            response = client.request(
                method, path, headers=headers, json={"name": "x"} if method == "POST" else None
            )
            assert response.status_code == 403, (name, method, path, response.text)
    assert client.get("/admin/key", headers={"X-API-Key": keys["alpha_owner"]}).json() == {
        "scope": "owner",
        "faq": ALPHA,
    }
    assert client.get("/admin/key", headers=SERVICE).json() == {"scope": "service", "faq": None}
    assert client.get("/admin/key", headers={"X-API-Key": "fk_000000000000_nope"}).status_code == 403


def test_a_new_faq_answers_its_own_entries_and_none_of_the_others(client, two_faqs):
    keys, _ = two_faqs
    alpha_key = {"X-API-Key": keys["alpha_public"]}
    # closed: no key, no answer
    assert client.post(f"/faqs/{ALPHA}/ask", json={"question": "laptop password reset"}).status_code == 401
    asked = client.post(
        f"/faqs/{ALPHA}/ask", json={"question": "how can i reset my laptop password"}, headers=alpha_key
    )
    assert asked.status_code == 200 and asked.json()["answers"][0]["answer"].startswith(
        "use the self-service"
    )
    beta = client.post(f"/faqs/{BETA}/ask", json={"question": "how can i reset my laptop password"}).json()
    assert all(MARKER in a["answer"] for a in beta["answers"])
    default = client.post("/ask", json={"question": f"where do i park the {MARKER} van?"}).json()
    assert all(MARKER not in a["answer"] for a in default["answers"] + default["suggestions"])
    listed = {f["name"]: f for f in client.get("/admin/faqs", headers=SERVICE).json()["faqs"]}
    assert listed["default"]["default"] and listed["default"]["entries"] > 10
    assert listed[ALPHA]["entries"] >= 2 and not listed[ALPHA]["open"]  # the matrix may have added one
    assert listed[BETA]["entries"] == 3 and listed[BETA]["asker_page"] == f"/faqs/{BETA}/"
    page = client.get(f"/faqs/{BETA}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert client.get("/faqs/no-such-faq/").status_code == 404
    assert client.post("/faqs/no-such-faq/ask", json={"question": "hello there"}).status_code == 404


def test_faqs_are_created_and_deleted_with_everything_of_theirs(client):
    assert client.post("/admin/faqs", json={"name": "Bad_Name"}, headers=SERVICE).status_code == 422
    assert client.post("/admin/faqs", json={"name": "x" * 65}, headers=SERVICE).status_code == 422
    assert client.post("/admin/faqs", json={"name": "default"}, headers=SERVICE).status_code == 409
    assert client.post("/admin/faqs", json={"name": "temp"}, headers=SERVICE).status_code == 201
    assert client.post("/admin/faqs", json={"name": "temp"}, headers=SERVICE).status_code == 409
    empty = client.post("/faqs/temp/ask", json={"question": "anything at all?"})
    assert empty.status_code == 200 and empty.json()["status"] == "no_answer"
    owner = _key(client, "temp", "owner")
    assert (
        client.post("/faqs/temp/faq/entries", json=ALPHA_ENTRIES, headers={"X-API-Key": owner}).status_code
        == 201
    )
    assert client.post("/faqs/temp/ask", json={"question": "who approves my holiday?"}).json()["answers"]
    store = client.app.state.store
    assert any(name.startswith("faq--temp_") for name in store.collection_names())

    deleted = client.delete("/admin/faqs/temp", headers=SERVICE)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["keys_revoked"] == 1 and deleted.json()["collections_dropped"] >= 2
    assert not any(name.startswith("faq--temp_") for name in store.collection_names())
    assert client.post("/faqs/temp/ask", json={"question": "who approves my holiday?"}).status_code == 404
    assert client.get("/admin/key", headers={"X-API-Key": owner}).status_code == 403  # its key is gone
    assert client.delete("/admin/faqs/temp", headers=SERVICE).status_code == 404
    assert client.delete("/admin/faqs/default", headers=SERVICE).status_code == 409
    assert "temp" not in {f["name"] for f in client.get("/admin/faqs", headers=SERVICE).json()["faqs"]}


def test_keys_are_listed_by_prefix_and_revoked(client, two_faqs):
    keys, _ = two_faqs
    owner = {"X-API-Key": keys["alpha_owner"]}
    made = client.post(
        f"/faqs/{ALPHA}/admin/keys", json={"scope": "public", "label": "widget"}, headers=owner
    )
    assert made.status_code == 201
    secret, key_id = made.json()["key"], made.json()["id"]
    listed = client.get(f"/faqs/{ALPHA}/admin/keys", headers=owner).json()["keys"]
    assert key_id in {k["id"] for k in listed}
    assert all("key" not in k and k["prefix"].startswith("fk_") for k in listed)
    assert secret not in json.dumps(listed)

    def ask_with_it() -> int:
        return client.post(
            f"/faqs/{ALPHA}/ask", json={"question": "holiday?"}, headers={"X-API-Key": secret}
        ).status_code

    assert ask_with_it() == 200
    assert client.delete(f"/faqs/{ALPHA}/admin/keys/{key_id}", headers=owner).status_code == 200
    assert ask_with_it() == 403
    assert client.delete(f"/faqs/{ALPHA}/admin/keys/{key_id}", headers=owner).status_code == 404
    assert client.post(f"/faqs/{ALPHA}/admin/keys", json={"scope": "admin"}, headers=owner).status_code == 422


def _some_entry(client, path: str) -> str:
    asked = client.post(path, json={"question": "who approves holiday requests?"}).json()
    return (asked["answers"] + asked["suggestions"])[0]["id"]


def test_one_faqs_askers_do_not_spend_another_faqs_budget(client):
    per_minute = client.app.state.settings.feedback_per_minute
    for name in ("one", "two"):
        assert client.post("/admin/faqs", json={"name": name}, headers=SERVICE).status_code == 201
        added = client.post(f"/faqs/{name}/faq/entries", json=ALPHA_ENTRIES, headers=SERVICE)
        assert added.status_code == 201
    entry, other = (_some_entry(client, f"/faqs/{name}/ask") for name in ("one", "two"))
    sent = [
        client.post("/faqs/one/feedback", json={"question": "holiday", "entry_id": entry, "helpful": True})
        for _ in range(int(per_minute) + 1)
    ]
    assert {r.status_code for r in sent[:-1]} == {201} and sent[-1].status_code == 429
    fresh = client.post(
        "/faqs/two/feedback", json={"question": "holiday", "entry_id": other, "helpful": True}
    )
    assert fresh.status_code == 201
    # and the two FAQs have a batcher each: filling one's queue is not the other's overload
    tenants = client.app.state.tenants
    assert tenants.services("one").batcher is not tenants.services("two").batcher


def test_a_store_written_before_faqs_had_names_opens_as_the_default_faq(trained_servable, tmp_path):
    """Everything written through the one-FAQ routes by the release before FAQs had names and
    pools (its store: format 1, a shard for every collection): entries, wordings, versions,
    review marks, feedback, the ask log, is there, unchanged, as the FAQ `default` under
    /faqs/default/ after the upgrade, and listed with its entries; new FAQs go to the pool."""
    import shutil

    from tests.app.api.conftest import _index

    store = tmp_path / "qdrant"
    _index(store, trained_servable, FAQ_EDGE_POOL_MAX_ENTRIES="0")
    old_settings = settings_for(
        trained_servable, store, ADMIN_API_KEY=ADMIN_KEY, FAQ_EDGE_POOL_MAX_ENTRIES="0"
    )
    settings = settings_for(trained_servable, store, ADMIN_API_KEY=ADMIN_KEY)
    reads = [
        "/faq/entries?limit=1000",
        "/admin/versions",
        "/admin/review",
        "/admin/unanswered",
        "/admin/insights",
        "/sources",
    ]
    with TestClient(create_app(old_settings)) as old:
        added = old.post("/faq/entries", json=ALPHA_ENTRIES, headers=SERVICE).json()["ids"]
        wording = old.post(
            f"/faq/entries/{added[0]}/alternates", json={"wordings": ["laptop locked out"]}, headers=SERVICE
        )
        assert wording.status_code == 200
        for question in (
            "what time does the canteen open?",
            "when does the canteen open",
            "is the canteen open",
        ):
            old.post("/ask", json={"question": question})
        asked = old.post("/ask", json={"question": "who approves holiday requests?"}).json()
        assert (
            old.post(
                "/feedback",
                json={"question": "holiday", "entry_id": asked["answers"][0]["id"], "helpful": True},
            ).status_code
            == 201
        )
        item = old.get("/admin/review", headers=SERVICE).json()["items"][0]
        assert (
            old.post(f"/admin/review/{item['id']}", json={"action": "dismiss"}, headers=SERVICE).status_code
            == 200
        )
        old.app.state.services.asks.flush()
        before = {path: old.get(path, headers=SERVICE).json() for path in reads}
        feedback_before = old.get("/admin/feedback", params={"pairs": "false"}, headers=SERVICE).text
    assert (
        sum(d["asks"] for d in before["/admin/insights"]["days"]) >= 4
        and before["/admin/versions"]["versions"]
    )
    assert json.loads(feedback_before.splitlines()[0])["helpful"] is True
    marker = store / "edge" / "store.json"
    marker.write_text(json.dumps({"engine": "qdrant-edge", "format": 1}))  # as that release left it
    assert not (store / "edge" / "pools").exists() or not any((store / "edge" / "pools").iterdir())

    with TestClient(create_app(settings)) as new:
        for path in reads:
            for prefix in ("", "/faqs/default"):
                assert new.get(prefix + path, headers=SERVICE).json() == before[path], (prefix, path)
        feedback_after = new.get(
            "/faqs/default/admin/feedback", params={"pairs": "false"}, headers=SERVICE
        ).text
        assert feedback_after == feedback_before
        assert item["id"] not in {
            i["id"] for i in new.get("/faqs/default/admin/review", headers=SERVICE).json()["items"]
        }
        (listed,) = new.get("/admin/faqs", headers=SERVICE).json()["faqs"]
        assert listed["name"] == "default" and listed["default"]
        assert listed["entries"] == len(before["/faq/entries?limit=1000"]["entries"])
        answered = new.post("/faqs/default/ask", json={"question": "laptop locked out"}).json()
        assert answered["answers"][0]["id"] == added[0]
        # the old collections stay shards of their own; a new FAQ is a partition of the pool
        opened = new.app.state.store
        assert not any(opened.layout(name).pooled for name in opened.collection_names())
        assert new.post("/admin/faqs", json={"name": "hr"}, headers=SERVICE).status_code == 201
        assert new.post("/faqs/hr/faq/entries", json=ALPHA_ENTRIES, headers=SERVICE).status_code == 201
        hr = [name for name in opened.collection_names() if name.startswith("faq--hr_v")]
        assert hr and all(opened.layout(name).pooled for name in hr)
    assert json.loads(marker.read_text())["format"] == 2
    shutil.rmtree(store, ignore_errors=True)


def test_the_faqs_are_listed_a_page_at_a_time(client):
    """A page is bounded (counting opens each FAQ's collection): every FAQ once, the default
    first, in pages of two, whatever the names sort before or after the default's."""
    for name in ("aaa-first", "zzz-last"):
        assert client.post("/admin/faqs", json={"name": name}, headers=SERVICE).status_code == 201
    everything = client.get("/admin/faqs", params={"limit": 1000}, headers=SERVICE).json()
    assert everything["next_after"] is None
    names = [f["name"] for f in everything["faqs"]]
    assert (
        names[0] == "default" and names[1:] == sorted(names[1:]) and {"aaa-first", "zzz-last"} <= set(names)
    )
    paged, after = [], ""
    while after is not None:
        page = client.get("/admin/faqs", params={"after": after, "limit": 2}, headers=SERVICE).json()
        assert len(page["faqs"]) <= 2
        paged += [f["name"] for f in page["faqs"]]
        after = page["next_after"]
    assert paged == names
    assert client.get("/admin/faqs", params={"limit": 0}, headers=SERVICE).status_code == 422
    assert client.get("/admin/faqs", params={"after": "x" * 65}, headers=SERVICE).status_code == 422
