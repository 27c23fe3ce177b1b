"""No Docker engine runs here: check the container files against the CLI and each other."""

import ipaddress
import re
import shlex

import pytest
import typer
import yaml

from app.api.client_address import TrustedProxies
from cli.main import app
from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def compose_default(value: str) -> str:
    """A compose value as `docker compose` reads it with the variable unset: ${NAME:-default}."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def parse_cli(argv: list[str]) -> tuple[str, dict]:
    """Parse a `faq ...` command line with the real CLI, without running it."""
    assert argv[0] == "faq"
    group = typer.main.get_command(app)
    name = argv[1]
    command = group.commands[name]
    return name, command.make_context(name, list(argv[2:])).params


CLUSTER = {
    "qdrant-node1",
    "qdrant-node2",
    "qdrant-node3",
    "qdrant-proxy",
    "indexer-cluster",
    "api-cluster",
    "proxy",
}


def test_services_and_their_roles():
    assert set(SERVICES) == {"qdrant", "api", "indexer", "trainer"} | CLUSTER
    assert all(SERVICES[name]["profiles"] == ["cluster"] for name in CLUSTER)
    qdrant = SERVICES["qdrant"]
    image, tag = qdrant["image"].split(":")
    assert image == "qdrant/qdrant" and tag.startswith("v1.") and tag != "latest"
    assert "qdrant_storage:/qdrant/storage" in qdrant["volumes"]
    assert "qdrant_storage" in COMPOSE["volumes"]
    assert "healthcheck" in qdrant
    assert SERVICES["trainer"]["profiles"] == ["train"]
    assert SERVICES["indexer"]["restart"] == "no"


def test_api_waits_for_a_healthy_qdrant_and_checks_ready():
    api = SERVICES["api"]
    assert api["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert api["depends_on"]["indexer"]["condition"] == "service_completed_successfully"
    # the published port is the one the command serves on
    _, params = parse_cli(api["command"])
    assert f"{params['port']}:{params['port']}" in api["ports"]
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["environment"]["QDRANT_URL"] == "http://qdrant:6333"
    assert api["environment"]["FAQ_SERVABLE"] == "/models/servable"
    assert "./var/servable:/models/servable:ro" in api["volumes"]


@pytest.mark.parametrize("service", ["api", "indexer", "trainer", "api-cluster", "indexer-cluster"])
def test_commands_are_valid_cli_calls(service):
    name, params = parse_cli(SERVICES[service]["command"])
    role = service.removesuffix("-cluster")
    assert name == {"api": "serve", "indexer": "index", "trainer": "train"}[role]
    if service == "api-cluster":
        assert params["workers"] == 2
    if role == "api":
        assert (params["host"], params["port"]) == ("0.0.0.0", 8000)
    if role == "indexer":
        assert str(params["servable"]) == "/models/servable"
        assert str(params["data"]).startswith("/data/")
        assert any(v.endswith(":/data:ro") for v in SERVICES[service]["volumes"])


def test_the_cluster_profile_is_three_qdrant_nodes_two_api_replicas_and_a_proxy():
    from app.config import ServiceSettings

    nodes = [SERVICES[f"qdrant-node{n}"] for n in (1, 2, 3)]
    for number, node in enumerate(nodes, start=1):
        assert node["image"] == SERVICES["qdrant"]["image"]  # the same pinned version
        assert node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert "ports" not in node and "6335" in node["expose"]  # the peer port stays internal
        command = node["command"]
        assert command[command.index("--uri") + 1] == f"http://qdrant-node{number}:6335"
        if number > 1:
            assert command[command.index("--bootstrap") + 1] == "http://qdrant-node1:6335"
            assert node["depends_on"]["qdrant-node1"]["condition"] == "service_healthy"
        assert f"qdrant_node{number}" in COMPOSE["volumes"]
    api = SERVICES["api-cluster"]
    assert api["deploy"]["replicas"] == 2 and "ports" not in api
    # the environment the replicas and the indexer read, through the real settings class
    settings = ServiceSettings(**{k: compose_default(str(v)) for k, v in api["environment"].items()})
    # no single node: the replicas reach Qdrant through a proxy in front of all three nodes
    assert settings.qdrant_url == "http://qdrant-proxy:6333"
    qdrant_proxy = SERVICES["qdrant-proxy"]
    assert qdrant_proxy["image"] == SERVICES["proxy"]["image"] and "ports" not in qdrant_proxy
    mount = next(v for v in qdrant_proxy["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    upstream = (REPO_ROOT / mount.split(":")[0]).read_text()
    for n in (1, 2, 3):
        assert f"server qdrant-node{n}:6333" in upstream
    assert "listen 6333;" in upstream and "proxy_next_upstream error timeout" in upstream
    assert settings.distribution() == {
        "shard_number": 3,
        "replication_factor": 2,
        "write_consistency_factor": 1,
    }
    assert SERVICES["indexer-cluster"]["environment"] == api["environment"]
    proxy = SERVICES["proxy"]
    image, tag = proxy["image"].split(":")
    assert image == "nginx" and tag[0].isdigit()  # the official image, pinned
    conf_mount = next(v for v in proxy["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    conf = (REPO_ROOT / conf_mount.split(":")[0]).read_text()
    # the published port reaches nginx's listener, which passes to the replicas' own port
    listen = re.search(r"listen (\d+);", conf).group(1)
    assert any(p.endswith(f":{listen}") for p in proxy["ports"])
    _, replica = parse_cli(api["command"])
    upstream_name = re.search(r"proxy_pass http://(\w+);", conf).group(1)
    block = re.search(rf"upstream {upstream_name} \{{(.*?)\}}", conf, re.S).group(1)
    assert f"server api-cluster:{replica['port']};" in block and str(replica["port"]) in api["expose"]
    # the visitor's address reaches the API, which believes it from this proxy only
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    address = proxy["networks"]["default"]["ipv4_address"]
    subnet = COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    trusted = TrustedProxies(compose_default(api["environment"]["FORWARDED_ALLOW_IPS"]))
    assert trusted.trusts(address) and not trusted.trusts("203.0.113.1")
    assert trusted.client(address, ["203.0.113.1"]) == "203.0.113.1"


def test_bad_cli_calls_are_caught_by_the_parser():
    with pytest.raises(Exception, match="No such option"):
        parse_cli(["faq", "serve", "--hots", "0.0.0.0"])


def test_dockerfile_serving_image_has_no_training_stack():
    assert "FROM python:3.11-slim AS base" in DOCKERFILE
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    serve_stage = DOCKERFILE.split("FROM serve AS train")[0]
    assert "COPY training" not in serve_stage
    assert "requirements-serve.lock" in serve_stage and "requirements.lock" not in serve_stage.replace(
        "requirements-serve.lock", ""
    )
    serve_lock = (REPO_ROOT / "requirements-serve.lock").read_text().lower()
    for package in ("quaterion", "pytorch-lightning", "torchmetrics"):
        assert f"\n{package}==" not in serve_lock
    cmd = [line for line in serve_stage.splitlines() if line.startswith("CMD")][0]
    assert (
        parse_cli(shlex.split(cmd[4:].strip().strip("[]").replace(",", " ").replace('"', "")))[0] == "serve"
    )


def test_serve_lock_is_a_subset_of_the_full_lock():
    def pins(name: str) -> set[str]:
        lines = (REPO_ROOT / name).read_text().splitlines()
        return {line.strip() for line in lines if line.strip() and not line.startswith("#")}

    assert pins("requirements-serve.lock") <= pins("requirements.lock")
