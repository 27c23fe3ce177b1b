"""`faq serve`, `faq ask` and `faq bench`: the service, a question without it (or through
it), and the service measured against a minimal one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    CollectionOption,
    DeviceOption,
    FaqOption,
    HandOffUrlOption,
    ServableOption,
    console,
    fail,
    known_errors,
    model_settings,
    settings_with,
    store_settings,
)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. More than one needs a Qdrant server (QDRANT_URL): the embedded "
            "store is owned by one process.",
        ),
    ] = 1,
) -> None:
    """Run the HTTP service (the page at /, POST /ask, GET /health, GET /ready, /metrics, docs
    at /docs).

    Configuration comes from the environment: FAQ_SERVABLE, FAQ_COLLECTION, QDRANT_URL,
    QDRANT_API_KEY, QDRANT_PATH, DEVICE, ADMIN_API_KEY and the others in docs/configuration.md.
    """
    import os

    import uvicorn

    from app.config import ServiceSettings
    from app.main import create_app

    settings = settings_with(ServiceSettings)
    # Idle keep-alive connections close after 5 s; beyond FAQ_MAX_CONNECTIONS open connections
    # (per worker) the server answers 503 instead of taking more.
    limits: dict = {"timeout_keep_alive": 5, "limit_concurrency": settings.max_connections}
    # X-Forwarded-For is read by the app (FORWARDED_ALLOW_IPS, app.api.client_address), the same
    # under any server and in the tests: uvicorn's own rewriting of the client is off.
    limits["proxy_headers"] = False
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **limits)
        return
    if settings.qdrant_url is None:
        raise fail(
            f"--workers {workers} needs a Qdrant server (set QDRANT_URL): the embedded store at "
            f"{settings.embedded_path} can be opened by one process only"
        )
    # Metrics that add up over the workers: prometheus-client's multiprocess mode, in a fresh
    # folder (workers are new interpreters: they read the variable when they import it).
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="faq-metrics-")
    # Each worker builds its app from the environment; the cores are shared between them.
    if settings.torch_threads is None:
        os.environ["FAQ_TORCH_THREADS"] = str(max(1, settings.threads() // workers))
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info", **limits
    )


def bench(ctx: typer.Context) -> None:
    """Benchmark the service against a minimal one-encoder app, on this machine, in one run:
    latency and throughput at 1, 4 and 16 clients over HTTP, index speed, cold start, memory.
    Options: `faq bench --help` (they are benchmarks.serve_speed's: --data, --entries,
    --seconds, --clients, --output). `faq bench --scale` measures the store instead, Qdrant Edge
    beside local mode at 10k and 100k entries (`faq bench --scale --help`). `faq bench --peer
    txtai` runs txtai, a peer, beside the service: latency, throughput and precision on user
    wordings (`faq bench --peer txtai --help`)."""
    args = list(ctx.args)
    if "--peer" in args or any(a.startswith("--peer=") for a in args):
        from benchmarks.peer_bench import main as run_peer

        run_peer(args, prog="faq bench --peer txtai")
        return
    if "--scale" in args:
        from benchmarks.store_scale import main as run_scale

        args.remove("--scale")
        run_scale(args, prog="faq bench --scale")
        return
    from benchmarks.serve_speed import main as run_benchmark

    run_benchmark(args, prog="faq bench")


def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=50, help="How many answers.")] = 5,
    source: Annotated[str | None, typer.Option(help="Only answers from this source.")] = None,
    url: HandOffUrlOption = None,
    servable: ServableOption = None,
    collection: CollectionOption = None,
    device: DeviceOption = None,
    faq: FaqOption = None,
) -> None:
    """Answer a question of the FAQ (--faq, else the default one): through a running service
    (--url, or one found at $FAQ_URL), otherwise directly against the store and the servable."""
    from app.config import ClientSettings
    from cli import remote

    if not question.strip():
        raise fail("the question is empty")
    client = settings_with(ClientSettings, FAQ_URL=url, FAQ_NAME=faq)
    if url or remote.is_running(client.url):
        try:
            key = client.admin_api_key.get_secret_value() if client.admin_api_key else None
            result = remote.ask(client.faq_url(), question, top_k=top_k, source=source, api_key=key)
        except remote.RemoteError as exc:
            raise fail(str(exc)) from None
    else:
        result = _ask_locally(
            question.strip(), top_k, source, model_settings(servable, device), collection, client.faq_name
        )
    status = result.get("status") or ("answered" if result["answered"] else "clarify")
    if status == "clarify":
        console.print("Not sure which entry answers that. Did you mean:")
        for suggestion in result["suggestions"]:
            console.print(f"  - {suggestion['question']} ({suggestion['score']:.3f})")
        return
    if status == "no_answer":
        console.print("No answer: nothing in this FAQ answers that question.")
        if result["suggestions"]:
            console.print("Related questions in the FAQ:")
            for suggestion in result["suggestions"]:
                console.print(f"  - {suggestion['question']} ({suggestion['score']:.3f})")
        return
    table = Table(title=question)
    for column in ("#", "score", "source", "answer"):
        table.add_column(column, overflow="fold")
    for rank, answer in enumerate(result["answers"], start=1):
        table.add_row(str(rank), f"{answer['score']:.3f}", answer["source"], answer["answer"])
    console.print(table)


def _ask_locally(
    question: str, top_k: int, source: str | None, model, collection: str | None, faq: str | None
) -> dict:
    from dataclasses import asdict

    from app.assembly import load_servable, opened_search

    with known_errors():
        with opened_search(store_settings(collection), load_servable(model), faq) as search:
            result = search.ask(question, top_k=top_k, source=source)
    # The same shape as the service's answer, so both paths print alike.
    return {
        "answered": result.answered,
        "status": result.status,
        "answers": [asdict(hit) for hit in result.answers],
        "suggestions": [asdict(hit) for hit in result.suggestions],
        "threshold": result.threshold,
    }
