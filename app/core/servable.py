"""Loading a Quaterion servable and encoding texts with it (needs quaterion_models only)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from quaterion_models.heads import EmptyHead
from quaterion_models.model import MetricModel

from app.core.device import resolve_device
from app.core.encoder import SentenceEncoder, default_model_path, load_sentence_transformer
from app.core.store import SearchSettings

logger = logging.getLogger(__name__)

SERVABLE_META = "faq_servable.json"


class ServableError(RuntimeError):
    """A servable that is missing or cannot be loaded."""


@dataclass
class ServableMeta:
    """What `faq train` knew when it saved the servable, stored beside Quaterion's own files."""

    base_model: str = ""
    embedding_size: int = 0
    trained_on: str = ""
    train_pairs: int = 0
    val_pairs: int = 0
    training_seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    # How the service matches questions with this servable (SearchSettings fields); training
    # records it so that evaluation, the index and the service all search alike.
    search: dict = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, path: Path) -> ServableMeta:
        if not path.is_file():
            return cls()
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


class Servable:
    """A loaded MetricModel on one device, encoding batches of texts into float32 vectors."""

    def __init__(self, model: MetricModel, path: Path, device: str, meta: ServableMeta):
        self.model = model
        self.path = path
        self.device = device
        self.meta = meta

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "auto") -> Servable:
        servable_path = Path(path)
        if not (servable_path / "config.json").is_file():
            raise ServableError(
                f"no servable at {servable_path}: train one with `faq train --output {servable_path}`"
            )
        resolved = resolve_device(device)
        try:
            model = MetricModel.load(str(servable_path))
        except Exception as exc:  # any failure here means the directory is not a usable servable
            raise ServableError(f"cannot load the servable at {servable_path}: {exc}") from exc
        model.to(resolved)
        model.eval()
        logger.info("servable %s loaded on %s", servable_path, resolved)
        return cls(model, servable_path, resolved, ServableMeta.read(servable_path / SERVABLE_META))

    @classmethod
    def from_base_model(
        cls, model_path: str | os.PathLike[str] | None = None, device: str = "auto"
    ) -> Servable:
        """The untrained encoder behind the same interface (an identity head), for comparisons."""
        encoder = SentenceEncoder(load_sentence_transformer(model_path))
        model = MetricModel(encoders=encoder, head=EmptyHead(encoder.embedding_size))
        resolved = resolve_device(device)
        model.to(resolved)
        model.eval()
        path = Path(model_path) if model_path else default_model_path()
        return cls(
            model, path, resolved, ServableMeta(base_model=str(path), embedding_size=encoder.embedding_size)
        )

    @property
    def search_settings(self) -> SearchSettings:
        return SearchSettings(**self.meta.search)

    @property
    def embedding_size(self) -> int:
        return int(self.model.head.output_size)

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embeddings of `texts` as a (len(texts), embedding_size) float32 array."""
        if not texts:
            return np.zeros((0, self.embedding_size), dtype=np.float32)
        with torch.inference_mode():
            vectors = self.model.encode(list(texts), batch_size=batch_size, to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)
