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
        # every step's training loss, at its fractional epoch: a one-epoch run still has a curve
        self.steps: list[dict] = []
        self._train_losses: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._train_losses = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._train_losses.append(float(loss))
            batches = max(1, int(trainer.num_training_batches))
            self.steps.append(
                {"epoch": round(trainer.current_epoch + (batch_idx + 1) / batches, 4), "loss": float(loss)}
            )

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
    """About ten lines over the run (by steps, so a single long epoch reports too), with the
    elapsed time, an estimate of the rest, and the latest val metrics; progress shows in logs
    and CI, where no bar is drawn."""

    def __init__(self, total_epochs: int, lines: int = 10) -> None:
        self.total_epochs = total_epochs
        self.lines = lines
        self._started = 0.0
        self._next_report = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()
        self._total_steps = max(1, int(trainer.num_training_batches) * self.total_epochs)
        self._every = max(1, self._total_steps // self.lines)
        self._next_report = self._every
        logger.info("training for %d epochs (%d steps)", self.total_epochs, self._total_steps)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step < self._next_report:
            return
        self._next_report += self._every
        elapsed = time.perf_counter() - self._started
        remaining = elapsed / step * (self._total_steps - step)
        metrics = trainer.callback_metrics
        precision = metrics.get(f"{PRECISION_METRIC}_{TrainStage.VALIDATION}")
        mrr = metrics.get(f"{RECIPROCAL_RANK_METRIC}_{TrainStage.VALIDATION}")
        val = (
            ""
            if precision is None
            else f"; last val precision@1 {float(precision):.3f}, MRR {float(mrr):.3f}"
        )
        logger.info(
            "epoch %d/%d, step %d/%d, %.0f s elapsed, ~%.0f s to go%s",
            trainer.current_epoch + 1,
            self.total_epochs,
            step,
            self._total_steps,
            elapsed,
            remaining,
            val,
        )

    def on_train_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        logger.info(
            "trained %d epochs in %.0f s: val precision@1 %.3f, MRR %.3f",
            self.total_epochs,
            time.perf_counter() - self._started,
            float(metrics.get(f"{PRECISION_METRIC}_{TrainStage.VALIDATION}", float("nan"))),
            float(metrics.get(f"{RECIPROCAL_RANK_METRIC}_{TrainStage.VALIDATION}", float("nan"))),
        )
