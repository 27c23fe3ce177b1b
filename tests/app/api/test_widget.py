"""The widget over HTTP: the owner lists the sites allowed to use a FAQ; their pages' CORS
preflights and asks are answered for that site only, every other site's refused before any
route runs; the embed page may be framed by those sites alone; a public key has budgets of its
own; the script is one small file. (In a real browser: test_widget_browser.py.)"""

from __future__ import annotations

import gzip

import pytest
from fastapi.testclient import TestClient

from app.api.routes.web import STATIC_DIR
from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for

SERVICE = {"X-API-Key": ADMIN_KEY}
SHOP = "https://shop.example"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def client(trained_servable, tmp_path_factory):
    store = tmp_path_factory.mktemp("widget-qdrant")
    index_into(store, trained_servable)
    settings = settings_for(
        trained_servable,
        store,
        ADMIN_API_KEY=ADMIN_KEY,
        FAQ_PUBLIC_KEY_PER_MINUTE="5",
        FAQ_PUBLIC_CLIENT_PER_MINUTE="3",
        FORWARDED_ALLOW_IPS="*",  # the test client stands for a proxy: X-Forwarded-For names the asker
    )
    with TestClient(create_app(settings)) as test_client:
        assert (
            test_client.post("/admin/faqs", json={"name": "shop", "open": False}, headers=SERVICE).status_code
            == 201
        )
        entries = [{"question": "how long does delivery take?", "answer": "Two to three working days."}]
        assert test_client.post("/faqs/shop/faq/entries", json=entries, headers=SERVICE).status_code == 201
        yield test_client


def _public_key(client, faq: str = "shop") -> str:
    made = client.post(
        f"/faqs/{faq}/admin/keys", json={"scope": "public", "label": "widget"}, headers=SERVICE
    )
    assert made.status_code == 201, made.text
    return made.json()["key"]


def test_the_owner_lists_the_allowed_sites_checked_and_written_one_way(client):
    assert client.get("/faqs/shop/admin/widget", headers=SERVICE).json()["allowed_origins"] == []
    bad = client.put(
        "/faqs/shop/admin/widget", json={"allowed_origins": ["https://shop.example/help"]}, headers=SERVICE
    )
    assert bad.status_code == 422 and "no path" in bad.text
    for wrong in (
        ["*"],
        ["javascript:alert(1)"],
        ["https://*.shop.example"],
        [f"https://s{n}.example" for n in range(51)],
        ["https://" + "a" * 100_000 + ".example"],  # not read past the bound, nor said back whole
    ):
        refused = client.put("/faqs/shop/admin/widget", json={"allowed_origins": wrong}, headers=SERVICE)
        assert refused.status_code == 422 and len(refused.content) < 5_000, refused.text[:200]
    set_ = client.put(
        "/faqs/shop/admin/widget", json={"allowed_origins": ["https://Shop.Example/", SHOP]}, headers=SERVICE
    )
    assert set_.status_code == 200, set_.text
    body = set_.json()
    assert body["allowed_origins"] == [SHOP]
    assert '/widget.js" data-faq="shop" data-key="PUBLIC_KEY" async></script>' in body["snippet"]
    assert body["embed_url"].endswith("/faqs/shop/embed")
    # an owner key of the FAQ may set them; a public key may not
    public = _public_key(client)
    assert client.get("/faqs/shop/admin/widget", headers={"X-API-Key": public}).status_code == 403


def test_preflights_and_asks_of_allowed_sites_only(client):
    client.put("/faqs/shop/admin/widget", json={"allowed_origins": [SHOP]}, headers=SERVICE)
    public = _public_key(client)
    preflight = {
        "Origin": SHOP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    ok = client.options("/faqs/shop/ask", headers=preflight)
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SHOP
    assert (
        "X-API-Key" in ok.headers["access-control-allow-headers"]
        and "POST" in ok.headers["access-control-allow-methods"]
    )
    asked = client.post(
        "/faqs/shop/ask",
        json={"question": "how long is delivery?"},
        headers={"Origin": SHOP, "X-API-Key": public},
    )
    assert asked.status_code == 200 and asked.headers["access-control-allow-origin"] == SHOP
    assert asked.headers["vary"] == "Origin"
    # another site: refused, preflight or not, with nothing its page could read
    for response in (
        client.options("/faqs/shop/ask", headers={**preflight, "Origin": EVIL}),
        client.post(
            "/faqs/shop/ask", json={"question": "delivery?"}, headers={"Origin": EVIL, "X-API-Key": public}
        ),
        client.post(
            "/faqs/shop/feedback",
            json={"question": "x", "entry_id": asked.json()["answers"][0]["id"], "helpful": False},
            headers={"Origin": EVIL, "X-API-Key": public},
        ),
    ):
        assert response.status_code == 403 and "access-control-allow-origin" not in response.headers
        assert EVIL in response.json()["detail"]
    # the default FAQ lists no site: its routes refuse every other site too
    assert client.post("/ask", json={"question": "a bucket?"}, headers={"Origin": SHOP}).status_code == 403
    # the service's own pages (same host) and callers without an Origin are unaffected
    assert (
        client.post(
            "/ask", json={"question": "a bucket?"}, headers={"Origin": "http://testserver"}
        ).status_code
        == 200
    )
    assert client.post("/ask", json={"question": "a bucket?"}).status_code == 200
    # no other route answers another site's page: no CORS header, whatever the key
    admin = client.get("/faqs/shop/admin/widget", headers={"Origin": SHOP, **SERVICE})
    assert "access-control-allow-origin" not in admin.headers
    assert client.options("/faqs/shop/admin/widget", headers={**preflight}).status_code == 405


def test_a_public_key_spends_its_budgets_and_reaches_only_ask_and_feedback(client):
    client.put("/faqs/shop/admin/widget", json={"allowed_origins": [SHOP]}, headers=SERVICE)
    public = _public_key(client)
    headers = {"Origin": SHOP, "X-API-Key": public}
    codes = [
        client.post("/faqs/shop/ask", json={"question": "delivery?"}, headers=headers).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429], "3 a minute for one client of the key"
    # the key's own budget (5 a minute) holds for all its askers together
    others = [
        client.post(
            "/faqs/shop/ask",
            json={"question": "delivery?"},
            headers={**headers, "X-Forwarded-For": f"10.0.0.{n}"},
        ).status_code
        for n in range(4)
    ]
    assert others == [200, 429, 429, 429], "the key had 1 of its 5 left, each asker 3 of theirs"
    assert client.get("/faqs/shop/faq/entries", headers={"X-API-Key": public}).status_code == 403
    assert client.get("/faqs/shop/admin/insights", headers={"X-API-Key": public}).status_code == 403


def test_the_embed_page_is_framed_by_the_allowed_sites_only(client):
    client.put("/faqs/shop/admin/widget", json={"allowed_origins": [SHOP]}, headers=SERVICE)
    page = client.get("/faqs/shop/embed")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {SHOP};" in policy and "x-frame-options" not in page.headers
    assert 'data-faq="shop"' in page.text and 'data-mode="inline"' in page.text
    public = _public_key(client)
    assert f'data-key="{public}"' in client.get("/faqs/shop/embed", params={"key": public}).text
    assert client.get("/faqs/shop/embed", params={"key": '"><script>alert(1)</script>'}).status_code == 422
    assert client.get("/faqs/nowhere/embed").status_code == 404
    # the other pages may be framed by no one
    assert client.get("/").headers["x-frame-options"] == "DENY"


def test_the_widget_script_is_one_small_file():
    served = (STATIC_DIR / "widget.js").read_bytes()
    assert len(gzip.compress(served, 9)) < 30 * 1024


def test_the_script_is_served_for_any_page(client):
    response = client.get("/widget.js", headers={"Origin": EVIL})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "attachShadow" in response.text
