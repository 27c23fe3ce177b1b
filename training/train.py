"""`faq train`: fine-tune the encoder with Quaterion and save a servable.

Steps: 1. read and split the data, and decide whether fine-tuning can be measured at all
(training.choice); 2-3. fine-tune with Quaterion (frozen encoder + cache, or a trainable
encoder), recording per-epoch metrics, and keep the result only if it beats the base encoder on
the held-out entries (else the base encoder is saved as the servable); 4. fit the servable's
decision rule to this FAQ (training.calibration); 5. write metrics.json and the training curves
next to it and move the directory into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from app.domain.ask_sets import load_out_of_domain
from app.domain.entry import DataError, FaqEntry, unique_entries
from app.domain.records import load_faq
from app.domain.split import Split, split_entries
from app.encoding.device import resolve_device
from app.encoding.onnx_runtime import OnnxExportError
from app.encoding.sentence_encoder import default_model_path
from app.encoding.servable import (
    QUESTION_MODEL_DIR,
    SERVABLE_META,
    TRAINED_ENTRIES,
    Servable,
    ServableMeta,
    base_question_model,
)
from app.search.decision import encoder_accuracy
from app.search.faq_search import unit_rows
from app.search.settings import BASE_SEARCH
from training.calibration import calibrate
from training.callbacks import EpochMetricsRecorder, LoggingProgress
from training.choice import Choice, compare, too_small
from training.compat import import_quaterion
from training.config import TrainConfig
from training.model import FaqModel, FaqPairsDataset
from training.plot import plot_training_curves
from training.sampling import SamePageSampler
from training.split import add_extra_pairs, wording_pairs

import_quaterion()

from quaterion import Quaterion  # noqa: E402
from quaterion.dataset import PairsSimilarityDataLoader  # noqa: E402
from quaterion.utils.progress_bar import QuaterionProgressBar  # noqa: E402

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
CURVES_FILE = "training_curves.png"


@dataclass
class TrainResult:
    servable: Path
    seconds: float
    epochs: list[dict]
    final_val: dict
    choice: dict | None = None


def resolve_accelerator(device: str) -> str:
    """Map our DEVICE spelling (auto/cpu/cuda) to pytorch-lightning's accelerator names."""
    return "gpu" if resolve_device(device) == "cuda" else "cpu"


def _cache_key(model_path: Path, train: list[FaqEntry], val: list[FaqEntry]) -> str:
    """Quaterion's cache is keyed by dataset position, so it is only valid for the same model
    and the same pairs in the same order: hash all of them."""
    digest = hashlib.sha256(str(model_path.resolve()).encode())
    weights = model_path / "model.safetensors"
    if weights.is_file():
        digest.update(str(weights.stat().st_size).encode())
    for part in (train, val):
        for entry in part:
            digest.update(entry.question.encode())
            digest.update(b"\0")
            digest.update(entry.answer.encode())
            digest.update(b"\1")
        digest.update(b"\2")
    return digest.hexdigest()[:16]


def _replace_dir(fresh: Path, target: Path) -> None:
    """Move a completely written directory into place; the old one goes only after that."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    fresh.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def train(cfg: TrainConfig) -> TrainResult:
    started = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    resolve_accelerator(cfg.device)  # an unknown device fails now, not after the data is read

    # 1. Data
    if cfg.data is None:
        raise DataError("no data file: pass --data FILE or set FAQ_DATA")
    dataset = load_faq(cfg.data, skip_invalid=cfg.skip_invalid, fmt=cfg.data_format)
    logger.info("data: %s", dataset.summary())
    split = split_entries(dataset.entries)
    wordings = wording_pairs(split.train)
    if wordings:  # the owner's confirmed wordings of training entries: pairs like the questions
        split, _ = add_extra_pairs(split, wordings)
    extra = None
    if cfg.extra_pairs is not None:
        split, extra = add_extra_pairs(
            split, load_faq(cfg.extra_pairs, skip_invalid=cfg.skip_invalid).entries
        )
    logger.info("split: %d train / %d val pairs", len(split.train), len(split.val))
    model_path = Path(cfg.model_path) if cfg.model_path else default_model_path()
    choice: Choice | None = None
    if cfg.encoder == "base":
        choice = Choice("base", "asked for (--encoder base): served with the base encoder")
    elif cfg.encoder == "auto":
        choice = too_small(split.val)
    if choice is not None:
        logger.info("encoder: %s", choice.reason)

    output = Path(cfg.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fresh = output.with_name(f".{output.name}.new-{os.getpid()}")
    if fresh.exists():
        shutil.rmtree(fresh)
    recorder = EpochMetricsRecorder()
    try:
        if choice is None:
            # 2-3. Fine-tune with Quaterion and save the servable (then, with --encoder auto,
            # keep it only if it beats the base encoder on the held-out entries).
            embedding_size = _fine_tune(cfg, split, model_path, recorder, fresh, rows_read=dataset.rows_read)
            if cfg.encoder == "auto":
                choice = compare(
                    Servable.load(fresh, device="cpu", runtime="torch", being_written=True),
                    Servable.from_base_model(model_path, device="cpu"),
                    unique_entries(dataset.entries),
                    split.val,
                )
                logger.info("encoder: %s", choice.reason)
                if choice.encoder == "base":
                    shutil.rmtree(fresh)
            else:
                choice = Choice("finetune", "asked for (--encoder finetune)")
        seconds = time.perf_counter() - started
        search = cfg.search if choice.encoder == "finetune" else BASE_SEARCH
        if choice.encoder == "base":
            base = base_question_model(model_path)
            base.save(str(fresh))
            embedding_size = int(base.head.output_size)
            recorder = EpochMetricsRecorder()  # nothing was trained
        final_val = recorder.epochs[-1]["val"] if recorder.epochs else {}
        finetuned = choice.encoder == "finetune"
        meta = ServableMeta(
            base_model=str(model_path),
            embedding_size=embedding_size,
            trained_on=str(cfg.data),
            train_pairs=len(split.train) if finetuned else 0,
            val_pairs=len(split.val) if finetuned else 0,
            extra_pairs=asdict(extra) if extra is not None and finetuned else None,
            training_seconds=round(seconds, 1),
            settings=json.loads(json.dumps(asdict(cfg), default=str)),
            search={**asdict(search), "no_answer_threshold": None},
            choice=choice.as_record(),
        )
        meta.write(fresh / SERVABLE_META)
        if finetuned:
            # The entries the encoder learnt from: the rule's accuracy estimate leaves them out.
            trained = unique_entries([*split.train])
            (fresh / TRAINED_ENTRIES).write_text("".join(f"{e.id}\n" for e in trained), encoding="utf-8")
            if search.question_encoder == "base":
                # The question side of fused search uses the untrained encoder: saved inside the
                # servable so serving loads both from one directory.
                base_question_model(model_path).save(str(fresh / QUESTION_MODEL_DIR))
        # The encoders in ONNX too (the service's fast runtime), checked against PyTorch; a
        # servable without them still serves, with PyTorch.
        saved = Servable.load(fresh, device="cpu", being_written=True)
        if cfg.onnx:
            try:
                saved.export_onnx()
                saved.use_runtime("auto")  # calibration encodes the whole data file: the fast way
            except OnnxExportError as exc:
                logger.warning("no ONNX export: %s", exc)
        # 4. The encoder's accuracy on entries it did not learn from (the rule's estimate), and
        # the decision rule fitted to this FAQ (training.calibration).
        held_out = split.val if finetuned else unique_entries(dataset.entries)
        meta.encoder_accuracy = round(held_out_accuracy(saved, held_out), 4)
        saved.meta.encoder_accuracy = meta.encoder_accuracy
        if cfg.calibrate:
            negatives = load_out_of_domain(cfg.out_of_domain) if cfg.out_of_domain else ()
            calibration = calibrate(saved, dataset.entries, search, negatives)
            meta.decision = calibration.rule.to_record()
            meta.calibration = calibration.as_record()
        meta.write(fresh / SERVABLE_META)
        # 5. Metrics and curves beside it; then the directory moves into place.
        (fresh / METRICS_FILE).write_text(
            json.dumps(
                {
                    "epochs": recorder.epochs,
                    "final_val": final_val,
                    "steps": recorder.steps,
                    "choice": choice.as_record(),
                },
                indent=2,
            )
        )
        if recorder.epochs:
            plot_training_curves(recorder.epochs, fresh / CURVES_FILE, recorder.steps)
    except BaseException:  # a failed calibration (or Ctrl-C) leaves no half-written directory
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    _replace_dir(fresh, output)
    logger.info("servable saved to %s (%.0f s)", output, time.perf_counter() - started)
    return TrainResult(
        servable=output,
        seconds=time.perf_counter() - started,
        epochs=recorder.epochs,
        final_val=final_val,
        choice=choice.as_record(),
    )


def held_out_accuracy(servable: Servable, entries: list[FaqEntry]) -> float:
    """The encoder's precision@1 of questions to their answers among pools of 64 entries."""
    unique = unique_entries(entries)
    answers = unit_rows(servable.encode([e.answer for e in unique]))
    questions = unit_rows(servable.encode([e.question for e in unique]))
    return encoder_accuracy(questions, answers, np.random.default_rng(0))


def _fine_tune(
    cfg: TrainConfig,
    split: Split,
    model_path: Path,
    recorder: EpochMetricsRecorder,
    fresh: Path,
    *,
    rows_read: int,
) -> int:
    """Fit the Quaterion model on the train split (val for the curves) and save its servable
    into `fresh`; its embedding size."""
    accelerator = resolve_accelerator(cfg.device)
    cache_dir = None
    if cfg.cache_dir is not None and not cfg.trainable_encoder:
        cache_dir = str(Path(cfg.cache_dir) / _cache_key(model_path, split.train, split.val))
    model = FaqModel(
        cfg,
        model_path,
        cache_dir=cache_dir,
        total_steps=cfg.epochs * -(-len(split.train) // cfg.batch_size),
    )
    if cache_dir and Path(cache_dir, "encoders").is_dir():
        logger.info("reusing the embedding cache in %s", cache_dir)
    elif cache_dir:
        logger.info("filling the embedding cache (%d texts)", 2 * rows_read)
    callbacks: list[pl.Callback] = [recorder, LoggingProgress(cfg.epochs)]
    interactive = sys.stderr.isatty()
    if interactive:
        callbacks.append(QuaterionProgressBar(console_kwargs={"tab_size": 4}))
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_epochs=cfg.epochs,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=interactive,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        deterministic=False,
    )
    if cfg.hard_negatives:
        sampler = SamePageSampler(split.train, cfg.batch_size, seed=cfg.seed)
        train_loader = PairsSimilarityDataLoader(
            FaqPairsDataset(split.train), batch_size=cfg.batch_size, sampler=sampler
        )
    else:
        train_loader = PairsSimilarityDataLoader(
            FaqPairsDataset(split.train), batch_size=cfg.batch_size, shuffle=True
        )
    val_loader = PairsSimilarityDataLoader(FaqPairsDataset(split.val), batch_size=cfg.batch_size)
    Quaterion.fit(model, trainer, train_loader, val_loader)
    model.model.cpu()
    model.save_servable(str(fresh))
    return int(model.model.head.output_size)
