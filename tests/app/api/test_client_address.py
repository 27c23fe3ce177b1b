"""Budgets per visitor behind reverse proxies: the service believes X-Forwarded-For from the
proxies of FORWARDED_ALLOW_IPS only, and then only the hops those proxies appended."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.client_address import TrustedProxies
from app.main import create_app
from tests.app.api.conftest import index_into, settings_for

NGINX = "172.28.0.10"
BALANCER = "10.1.2.3"


def test_the_visitor_is_the_nearest_untrusted_hop():
    proxies = TrustedProxies(f"{NGINX}, 10.1.0.0/16")
    assert proxies.client("198.51.100.7", ["203.0.113.1"]) == "198.51.100.7"  # not a proxy: ignored
    assert proxies.client(NGINX, ["203.0.113.1"]) == "203.0.113.1"
    # through a balancer and nginx; what the visitor wrote in front of it proves nothing
    assert proxies.client(NGINX, ["1.1.1.1, 203.0.113.1", BALANCER]) == "203.0.113.1"
    assert proxies.client(NGINX, []) == NGINX
    assert TrustedProxies("*").client(NGINX, ["203.0.113.1, 10.1.2.3"]) == "203.0.113.1"
    with pytest.raises(ValueError, match="FORWARDED_ALLOW_IPS: 'nginx'"):
        TrustedProxies("nginx")


@pytest.fixture(scope="module")
def behind_nginx(trained_servable, tmp_path_factory):
    """The app as the cluster profile runs it: every request comes from nginx's address."""
    path = tmp_path_factory.mktemp("qdrant-proxied")
    index_into(path, trained_servable)
    settings = settings_for(
        trained_servable, path, FORWARDED_ALLOW_IPS=f"{NGINX},{BALANCER}", FAQ_FEEDBACK_PER_MINUTE="2"
    )
    with TestClient(create_app(settings), client=(NGINX, 40000)) as client:
        yield client


def _feedback(client, entry_id: str, forwarded: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    body = {"entry_id": entry_id, "helpful": True, "question": "how do i make a bucket?"}
    return client.post("/feedback", json=body, headers=headers).status_code


def test_each_visitor_behind_the_proxies_has_its_own_budget(behind_nginx):
    entry_id = behind_nginx.post("/ask", json={"question": "how do i create a storage bucket?"}).json()[
        "answers"
    ][0]["id"]
    first, second = "203.0.113.1", "203.0.113.2"
    assert [_feedback(behind_nginx, entry_id, first) for _ in range(3)] == [201, 201, 429]
    # a second visitor is not refused for the first one's posts, through the balancer too
    assert _feedback(behind_nginx, entry_id, f"{second}, {BALANCER}") == 201
    # the first visitor cannot start afresh by writing another address in front of its own
    assert _feedback(behind_nginx, entry_id, f"198.51.100.9, {first}") == 429
