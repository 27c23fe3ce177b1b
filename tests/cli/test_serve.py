"""`faq serve` as a process, and the CLI commands that talk to it over HTTP."""

import os
import socket
import subprocess
import sys
import time

import httpx

from tests.app.api.conftest import ADMIN_KEY, index_into
from tests.conftest import MINI_FAQ, REPO_ROOT


def run_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_faq_serve_answers_and_takes_jobs_handed_over(trained_servable, tmp_path):
    qdrant = tmp_path / "qdrant"
    index_into(qdrant, trained_servable)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FAQ_SERVABLE": str(trained_servable),
        "QDRANT_PATH": str(qdrant),
        "DEVICE": "cpu",
        "ADMIN_API_KEY": ADMIN_KEY,
        "FAQ_URL": url,
    }
    env.pop("QDRANT_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            time.sleep(0.5)
        response = httpx.post(f"{url}/ask", json={"question": "is there a free tier?"}, timeout=30)
        assert response.status_code == 200
        assert response.json()["answers"][0]["question"] == "is there a free tier?"
        before = httpx.get(f"{url}/ready").json()["collection"]

        # No --url: `faq index` finds the embedded store locked by the service at $FAQ_URL and
        # hands the job over.
        out = run_cli(env, "index", "--data", str(MINI_FAQ))
        assert out.returncode == 0, out.stderr
        assert "handing the job to it" in out.stderr
        assert "indexed" in out.stdout and "40" in out.stdout
        assert httpx.get(f"{url}/ready").json()["collection"] != before

        # `faq ask` finds the service at $FAQ_URL too.
        out = run_cli(env, "ask", "what are the support response times?", "--top-k", "2")
        assert out.returncode == 0, out.stderr
        assert "business plans get a reply" in out.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
