"""The Quaterion model: a sentence encoder with a trainable head, trained on question/answer pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from quaterion_models import SimilarityModel
from quaterion_models.heads import EncoderHead, SkipConnectionHead
from torch.utils.data import Dataset

from app.domain.entry import FaqEntry
from app.encoding.sentence_encoder import SentenceEncoder, load_sentence_transformer
from training.compat import import_quaterion
from training.config import TrainConfig
from training.layer_cache import LayerCachedEncoder

import_quaterion()

from quaterion import TrainableModel  # noqa: E402  (needs the torch patch above)
from quaterion.dataset import SimilarityPairSample  # noqa: E402
from quaterion.eval.attached_metric import AttachedMetric  # noqa: E402
from quaterion.eval.pair import RetrievalPrecision, RetrievalReciprocalRank  # noqa: E402
from quaterion.loss import MultipleNegativesRankingLoss  # noqa: E402
from quaterion.train.cache import CacheConfig, CacheType  # noqa: E402
from quaterion.utils.enums import TrainStage  # noqa: E402

PRECISION_METRIC = "RetrievalPrecision"
RECIPROCAL_RANK_METRIC = "RetrievalReciprocalRank"
__all__ = ["FaqModel", "FaqPairsDataset", "TrainStage"]


class FaqPairsDataset(Dataset):
    """Question/answer pairs as Quaterion pair samples, one subgroup per pair: every other
    pair in a batch is a negative."""

    def __init__(self, entries: Sequence[FaqEntry]):
        self._entries = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> SimilarityPairSample:
        entry = self._entries[index]
        return SimilarityPairSample(obj_a=entry.question, obj_b=entry.answer, subgroup=index)


class FaqModel(TrainableModel):
    """Frozen (and cached) or trainable sentence encoder + SkipConnectionHead, trained with the
    symmetric multiple-negatives ranking loss; logs retrieval precision@1 and reciprocal rank.
    Every setting comes from the TrainConfig."""

    def __init__(
        self,
        cfg: TrainConfig,
        model_path: Path,
        *,
        cache_dir: str | None = None,
        total_steps: int = 0,
        cache_batch_size: int = 256,
    ):
        self.cfg = cfg
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.total_steps = total_steps
        self.cache_batch_size = cache_batch_size
        super().__init__()

    def configure_encoders(self) -> SentenceEncoder:
        sentence_model = load_sentence_transformer(self.model_path)
        if self.cfg.trainable_encoder and self.cfg.frozen_layers:
            return LayerCachedEncoder(sentence_model, self.cfg.frozen_layers)
        return SentenceEncoder(sentence_model, trainable=self.cfg.trainable_encoder)

    def save_servable(self, path: str) -> None:
        """Save with serving encoders: a layer-cached training encoder becomes the plain
        SentenceEncoder around the same weights, so serving never imports training code."""
        self.unwrap_cache()
        encoders = {
            key: encoder.to_serving() if isinstance(encoder, LayerCachedEncoder) else encoder
            for key, encoder in self.model.encoders.items()
        }
        SimilarityModel(encoders=encoders, head=self.model.head).save(path)

    def configure_head(self, input_embedding_size: int) -> EncoderHead:
        return SkipConnectionHead(
            input_embedding_size, skip_dropout=self.cfg.head_dropout, n_layers=self.cfg.head_layers
        )

    def configure_loss(self) -> MultipleNegativesRankingLoss:
        return MultipleNegativesRankingLoss(scale=self.cfg.loss_scale, symmetric=self.cfg.symmetric_loss)

    def configure_caches(self) -> CacheConfig | None:
        if self.cfg.trainable_encoder:
            return None  # a trainable encoder's outputs change every step: nothing to cache
        return CacheConfig(CacheType.AUTO, batch_size=self.cache_batch_size, save_dir=self.cache_dir)

    def configure_metrics(self) -> list[AttachedMetric]:
        return [
            AttachedMetric(
                PRECISION_METRIC,
                RetrievalPrecision(k=1),
                prog_bar=True,
                logger=False,
                on_step=False,
                on_epoch=True,
            ),
            AttachedMetric(
                RECIPROCAL_RANK_METRIC,
                RetrievalReciprocalRank(),
                prog_bar=True,
                logger=False,
                on_step=False,
                on_epoch=True,
            ),
        ]

    def configure_optimizers(self):
        groups = [{"params": list(self.model.head.parameters()), "lr": self.cfg.lr}]
        if not self.cfg.trainable_encoder:
            return torch.optim.AdamW(groups)
        encoder_params = [
            p for encoder in self.model.encoders.values() for p in encoder.parameters() if p.requires_grad
        ]
        groups.append({"params": encoder_params, "lr": self.cfg.encoder_lr})
        optimizer = torch.optim.AdamW(groups)
        # Fine-tuning a pretrained transformer: warm up, then decay linearly to zero, so the
        # first steps (random head, hard batches) do not wreck the pretrained weights.
        warmup = max(1, int(self.total_steps * self.cfg.warmup_fraction))
        total = max(self.total_steps, warmup + 1)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / (total - warmup))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
