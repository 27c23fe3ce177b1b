"""No Docker engine runs here: check the container files against the CLI and each other."""

import shlex

import pytest
import typer
import yaml

from cli.main import app
from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def parse_cli(argv: list[str]) -> tuple[str, dict]:
    """Parse a `faq ...` command line with the real CLI, without running it."""
    assert argv[0] == "faq"
    group = typer.main.get_command(app)
    name = argv[1]
    command = group.commands[name]
    return name, command.make_context(name, list(argv[2:])).params


def test_services_and_their_roles():
    assert set(SERVICES) == {"qdrant", "api", "indexer", "trainer"}
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
    assert "8000:8000" in api["ports"]
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["environment"]["QDRANT_URL"] == "http://qdrant:6333"
    assert api["environment"]["FAQ_SERVABLE"] == "/models/servable"
    assert "./var/servable:/models/servable:ro" in api["volumes"]


@pytest.mark.parametrize("service", ["api", "indexer", "trainer"])
def test_commands_are_valid_cli_calls(service):
    name, params = parse_cli(SERVICES[service]["command"])
    assert name == {"api": "serve", "indexer": "index", "trainer": "train"}[service]
    if service == "api":
        assert (params["host"], params["port"]) == ("0.0.0.0", 8000)
    if service == "indexer":
        assert str(params["servable"]) == "/models/servable"
        assert str(params["data"]).startswith("/data/")
        assert any(v.endswith(":/data:ro") for v in SERVICES["indexer"]["volumes"])


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
