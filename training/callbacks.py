"""Lightning callbacks: per-epoch metrics for metrics.json, and progress lines for logs."""

from __future__ import annotations

import logging
import time

import pytorch_lightning as pl

from training.model import PRECISION_METRIC, RECIPROCAL_RANK_METRIC, TrainStage

logger = logging.getLogger(__name__)

# Quaterion builds its metric names with f"{name}_{stage}"; on Python 3.11 a str-Enum formats
# as "TrainStage.TRAIN", so the keys are built the same way here rather than spelled out.
_STAGES = {"train": TrainStage.TRAIN, "val": TrainStage.VALIDATION}


class EpochMetricsRecorder(pl.Callback):
    """Collects loss, precision@1 and reciprocal rank of both stages after every epoch."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self._train_losses: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._train_losses = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._train_losses.append(float(loss))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        record: dict = {"epoch": trainer.current_epoch + 1}
        for short, stage in _STAGES.items():
            values = {
                "precision_at_1": metrics.get(f"{PRECISION_METRIC}_{stage}"),
                "mrr": metrics.get(f"{RECIPROCAL_RANK_METRIC}_{stage}"),
            }
            if short == "train":
                values["loss"] = (
                    sum(self._train_losses) / len(self._train_losses) if self._train_losses else None
                )
            else:
                values["loss"] = metrics.get(f"{stage}_loss")
            record[short] = values
        self.epochs.append(record)


class LoggingProgress(pl.Callback):
    """A line every few epochs, so progress shows in logs and CI where no bar is drawn."""

    def __init__(self, total_epochs: int, lines: int = 10) -> None:
        self.total = total_epochs
        self.every = max(1, total_epochs // lines)
        self._started = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()
        logger.info("training for %d epochs", self.total)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every and epoch != self.total:
            return
        metrics = trainer.callback_metrics
        logger.info(
            "epoch %d/%d (%.0f s): val precision@1 %.3f, MRR %.3f",
            epoch,
            self.total,
            time.perf_counter() - self._started,
            float(metrics.get(f"{PRECISION_METRIC}_{TrainStage.VALIDATION}", float("nan"))),
            float(metrics.get(f"{RECIPROCAL_RANK_METRIC}_{TrainStage.VALIDATION}", float("nan"))),
        )
