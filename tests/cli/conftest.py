"""A real `faq serve` process on a free local port, for the tests that talk HTTP to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.app.api.conftest import ADMIN_KEY, index_into
from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    url: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None


def start_service(servable: Path, store: dict[str, str], **extra_env: str) -> Service:
    """`faq serve` with `store` ({"QDRANT_PATH": ...} or {"QDRANT_URL": ...}), once /health answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("QDRANT_URL", "QDRANT_PATH")}
    env.update(
        FAQ_SERVABLE=str(servable), DEVICE="cpu", ADMIN_API_KEY=ADMIN_KEY, FAQ_URL=url, **store, **extra_env
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    service = Service(url, port, env, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        if not service.alive():
            raise RuntimeError(f"faq serve exited with {process.returncode}")
        time.sleep(0.3)
    stop_service(service)
    raise RuntimeError("faq serve did not answer /health within 120 s")


def stop_service(service: Service) -> None:
    if service.alive():
        service.process.terminate()
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.process.kill()


@pytest.fixture(scope="module")
def served(trained_servable, tmp_path_factory) -> Iterator[Service]:
    """`faq serve` over the mini FAQ, indexed with the trained servable; ready to answer."""
    qdrant = tmp_path_factory.mktemp("served-qdrant")
    index_into(qdrant, trained_servable)
    service = start_service(trained_servable, {"QDRANT_PATH": str(qdrant)})
    try:
        yield service
    finally:
        stop_service(service)
