"""Talking to a running `faq serve` over HTTP: asking, handing it a reindex job, and the admin
routes that `faq entries`, `faq export` and `faq feedback` use."""

from __future__ import annotations

import time
from pathlib import Path

import httpx


class RemoteError(RuntimeError):
    pass


def is_running(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _key(api_key: str | None) -> dict[str, str]:
    return {"X-API-Key": api_key} if api_key else {}


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def ask(
    url: str,
    question: str,
    *,
    top_k: int,
    source: str | None,
    api_key: str | None = None,
    timeout: float = 60,
) -> dict:
    """POST /ask; `api_key` is sent when given (a closed FAQ is asked with one of its keys)."""
    payload = {"question": question, "top_k": top_k, "source": source}
    return call("POST", url, "/ask", json=payload, api_key=api_key, timeout=timeout).json()


def reindex(
    url: str,
    data: Path,
    *,
    api_key: str | None,
    fmt: str = "jsonl",
    poll_seconds: float = 1.0,
    timeout: float = 3600,
) -> dict:
    """Upload `data` (a file in format `fmt`) to POST /admin/reindex and wait for the job;
    returns its report."""
    job = call(
        "POST",
        url,
        "/admin/reindex",
        api_key=api_key,
        expected=(202,),
        content=data.read_bytes(),
        params={"format": fmt},
    ).json()
    return wait_for_job(url, job, api_key=api_key, poll_seconds=poll_seconds, timeout=timeout)


def wait_for_job(
    url: str, job: dict, *, api_key: str | None, poll_seconds: float = 1.0, timeout: float = 3600
) -> dict:
    """Poll a reindex job until it has finished; its report (RemoteError when it failed)."""
    deadline = time.monotonic() + timeout
    while job["status"] == "running":
        if time.monotonic() > deadline:
            raise RemoteError(f"reindex job {job['id']} still running after {timeout:.0f} s")
        time.sleep(poll_seconds)
        job = call("GET", url, f"/admin/reindex/{job['id']}", api_key=api_key, timeout=30).json()
    if job["status"] != "succeeded":
        raise RemoteError(f"reindex job {job['id']} failed: {job.get('error')}")
    return job["report"]


def call(
    method: str,
    url: str,
    path: str,
    *,
    api_key: str | None = None,
    expected: tuple[int, ...] = (200,),
    timeout: float = 120,
    **kwargs,
) -> httpx.Response:
    """One request to the service; RemoteError naming the problem unless the status is expected."""
    headers = {**kwargs.pop("headers", {}), **_key(api_key)}
    try:
        response = httpx.request(method, f"{url}{path}", headers=headers, timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot reach the service at {url} (is `faq serve` running?): {exc}") from None
    if response.status_code not in expected:
        raise RemoteError(f"the service answered {response.status_code}: {_detail(response)}")
    return response


def download(url: str, path: str, output: Path, *, api_key: str | None, params: dict) -> int:
    """Stream a JSONL answer into `output` (written beside it, then renamed: a failed download
    leaves no half file); returns the number of lines."""
    headers = _key(api_key)
    partial = output.with_name(f".{output.name}.partial")
    lines = 0
    try:
        with (
            httpx.stream("GET", f"{url}{path}", params=params, headers=headers, timeout=120) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise RemoteError(f"the service answered {response.status_code}: {_detail(response)}")
            output.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("w", encoding="utf-8") as sink:
                for line in response.iter_lines():
                    if line.strip():
                        sink.write(line + "\n")
                        lines += 1
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise RemoteError(f"cannot reach the service at {url} (is `faq serve` running?): {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)
    return lines
