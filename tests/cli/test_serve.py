"""`faq serve` as a process, and the CLI commands that talk to it over HTTP."""

import httpx
import pytest

from tests.cli.test_main import run_faq
from tests.conftest import MINI_FAQ

# `faq serve` as a process of its own with jobs handed over (twenty seconds): `make test-slow`.
pytestmark = pytest.mark.slow


def test_faq_serve_answers_and_takes_jobs_handed_over(served):
    url, env = served.url, served.env
    response = httpx.post(f"{url}/ask", json={"question": "is there a free tier?"}, timeout=30)
    assert response.status_code == 200
    assert response.json()["answers"][0]["question"] == "is there a free tier?"
    before = httpx.get(f"{url}/ready").json()["collection"]

    # No --url: `faq index` finds the embedded store locked by the service at $FAQ_URL and
    # hands the job over.
    out = run_faq("index", "--data", str(MINI_FAQ), env=env)
    assert out.returncode == 0, out.stderr
    assert "handing the job to it" in out.stderr
    assert "indexed" in out.stdout and "40" in out.stdout
    assert httpx.get(f"{url}/ready").json()["collection"] != before

    # `faq ask` finds the service at $FAQ_URL too.
    out = run_faq("ask", "what are the support response times?", "--top-k", "2", env=env)
    assert out.returncode == 0, out.stderr
    assert "business plans get a reply" in out.stdout
