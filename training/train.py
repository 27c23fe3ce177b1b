"""`faq train`: fine-tune the encoder with Quaterion and save a servable.

Steps: 1. read and split the data; 2. build the Quaterion model (frozen encoder + cache, or a
trainable encoder); 3. fit, recording per-epoch metrics; 4. save the servable to a fresh
directory; 5. calibrate its no-answer threshold; 6. write metrics.json and the training curves
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

import pytorch_lightning as pl

from app.domain.entry import DataError, FaqEntry
from app.domain.records import load_faq
from app.encoding.device import resolve_device
from app.encoding.onnx_runtime import OnnxExportError
from app.encoding.sentence_encoder import default_model_path
from app.encoding.servable import (
    QUESTION_MODEL_DIR,
    SERVABLE_META,
    Servable,
    ServableMeta,
    base_question_model,
)
from training.calibration import calibrate
from training.callbacks import EpochMetricsRecorder, LoggingProgress
from training.compat import import_quaterion
from training.config import TrainConfig
from training.evaluate import load_out_of_domain
from training.model import FaqModel, FaqPairsDataset
from training.plot import plot_training_curves
from training.sampling import SamePageSampler
from training.split import add_extra_pairs, split_entries

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
    accelerator = resolve_accelerator(cfg.device)

    # 1. Data
    if cfg.data is None:
        raise DataError("no data file: pass --data FILE or set FAQ_DATA")
    dataset = load_faq(cfg.data, skip_invalid=cfg.skip_invalid)
    logger.info("data: %s", dataset.summary())
    split = split_entries(dataset.entries)
    extra = None
    if cfg.extra_pairs is not None:
        split, extra = add_extra_pairs(
            split, load_faq(cfg.extra_pairs, skip_invalid=cfg.skip_invalid).entries
        )
    logger.info("split: %d train / %d val pairs", len(split.train), len(split.val))

    # 2. Model
    model_path = Path(cfg.model_path) if cfg.model_path else default_model_path()
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
        logger.info("filling the embedding cache (%d texts)", 2 * dataset.rows_read)

    # 3. Fit
    recorder = EpochMetricsRecorder()
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
    seconds = time.perf_counter() - started

    # 4. Servable: written to a fresh directory, then moved into place.
    output = Path(cfg.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fresh = output.with_name(f".{output.name}.new-{os.getpid()}")
    if fresh.exists():
        shutil.rmtree(fresh)
    try:
        model.model.cpu()
        model.save_servable(str(fresh))
        final_val = recorder.epochs[-1]["val"] if recorder.epochs else {}
        meta = ServableMeta(
            base_model=str(model_path),
            embedding_size=model.model.head.output_size,
            trained_on=str(cfg.data),
            train_pairs=len(split.train),
            val_pairs=len(split.val),
            extra_pairs=asdict(extra) if extra is not None else None,
            training_seconds=round(seconds, 1),
            settings=json.loads(json.dumps(asdict(cfg), default=str)),
            search=asdict(cfg.search),
        )
        meta.write(fresh / SERVABLE_META)
        if cfg.search.question_encoder == "base":
            # The question side of fused search uses the untrained encoder: saved inside the
            # servable so serving loads both from one directory.
            base_question_model(model_path).save(str(fresh / QUESTION_MODEL_DIR))
        # The encoders in ONNX too (the service's fast runtime), checked against PyTorch; a
        # servable without them still serves, with PyTorch.
        saved = Servable.load(fresh, device="cpu")
        if cfg.onnx:
            try:
                saved.export_onnx()
                saved.use_runtime("auto")  # calibration encodes the whole data file: the fast way
            except OnnxExportError as exc:
                logger.warning("no ONNX export: %s", exc)
        # 5. The no-answer threshold, calibrated on the servable as saved (see training.calibration).
        if cfg.calibrate:
            negatives = load_out_of_domain(cfg.out_of_domain) if cfg.out_of_domain else None
            calibration = calibrate(saved, dataset, split.val, cfg.search, negatives)
            meta.search["no_answer_threshold"] = calibration.threshold
            meta.calibration = calibration.as_record()
            meta.write(fresh / SERVABLE_META)
        # 6. Metrics and curves beside it; then the directory moves into place.
        (fresh / METRICS_FILE).write_text(
            json.dumps({"epochs": recorder.epochs, "final_val": final_val, "steps": recorder.steps}, indent=2)
        )
        plot_training_curves(recorder.epochs, fresh / CURVES_FILE, recorder.steps)
    except BaseException:  # a failed calibration (or Ctrl-C) leaves no half-written directory
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    _replace_dir(fresh, output)
    logger.info("servable saved to %s (%.0f s)", output, seconds)
    return TrainResult(servable=output, seconds=seconds, epochs=recorder.epochs, final_val=final_val)
