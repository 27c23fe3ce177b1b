"""Fine-tuning the top transformer layers over cached outputs of the frozen bottom layers.

Training the whole encoder on a CPU spends most of each step in the lower layers, forward and
backward. Freezing the embeddings and the first `frozen_layers` layers changes nothing in
their outputs from one epoch to the next, so those are computed once per distinct text and
kept (unpadded, a few hundred MB for the cloud FAQ); each step then runs only the top layers.
With 4 of 6 layers frozen a step costs about a third of full fine-tuning.

Only training uses this class: the servable is saved with the plain SentenceEncoder around
the same (updated) weights, so serving runs the ordinary full forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer
from torch import Tensor
from transformers.masking_utils import create_bidirectional_mask

from app.encoding.sentence_encoder import SentenceEncoder, preprocess

BOTTOM_BATCH = 64


class LayerCachedEncoder(SentenceEncoder):
    def __init__(self, model: SentenceTransformer, frozen_layers: int, chunk_size: int = 16):
        super().__init__(model, trainable=True, chunk_size=chunk_size)
        # The transformer inside sentence-transformers' first module (typed loosely by torch).
        self.bert: Any = cast(Any, model[0]).auto_model
        self.layers: Any = self.bert.encoder.layer
        if not 0 < frozen_layers < len(self.layers):
            raise ValueError(
                f"frozen_layers must be between 1 and {len(self.layers) - 1}, got {frozen_layers}"
            )
        self.frozen_layers = frozen_layers
        for parameter in model.parameters():
            parameter.requires_grad = True
        for module in (self.bert.embeddings, *self.layers[:frozen_layers]):
            for parameter in module.parameters():
                parameter.requires_grad = False
        # text -> hidden states after the frozen layers, [tokens, hidden], without padding
        self._states: dict[str, Tensor] = {}

    def to_serving(self) -> SentenceEncoder:
        return SentenceEncoder(self.model, trainable=False, chunk_size=self.chunk_size)

    def forward(self, batch: Sequence[str]) -> Tensor:
        texts = list(batch)
        if not texts:
            return torch.empty(0, self.embedding_size, device=self._device())
        self._fill_states(texts)
        order = sorted(range(len(texts)), key=lambda i: self._states[texts[i]].shape[0])
        pieces = [
            self._top([self._states[texts[i]] for i in order[start : start + self.chunk_size]])
            for start in range(0, len(order), self.chunk_size)
        ]
        embeddings = torch.cat(pieces)
        inverse = torch.empty(len(order), dtype=torch.long, device=embeddings.device)
        inverse[torch.tensor(order, device=embeddings.device)] = torch.arange(
            len(order), device=embeddings.device
        )
        return embeddings[inverse]

    @torch.no_grad()
    def _fill_states(self, texts: list[str]) -> None:
        missing = sorted({t for t in texts if t not in self._states}, key=len)
        if not missing:
            return
        was_training = self.bert.training
        self.bert.eval()  # the frozen part runs without dropout, once
        try:
            for start in range(0, len(missing), BOTTOM_BATCH):
                chunk = missing[start : start + BOTTOM_BATCH]
                features = preprocess(self.model, chunk)
                ids = features["input_ids"].to(self._device())
                attention = features["attention_mask"].to(self._device())
                hidden = self.bert.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
                mask = create_bidirectional_mask(
                    config=self.bert.config, inputs_embeds=hidden, attention_mask=attention
                )
                for layer in self.layers[: self.frozen_layers]:
                    hidden = layer(hidden, mask)
                for text, row, length in zip(chunk, hidden, attention.sum(dim=1).tolist(), strict=True):
                    self._states[text] = row[:length].clone()
        finally:
            self.bert.train(was_training)

    def _top(self, states: list[Tensor]) -> Tensor:
        lengths = torch.tensor([s.shape[0] for s in states], device=states[0].device)
        hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        attention = (torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]).long()
        mask = create_bidirectional_mask(
            config=self.bert.config, inputs_embeds=hidden, attention_mask=attention
        )
        for layer in self.layers[self.frozen_layers :]:
            hidden = layer(hidden, mask)
        # all-MiniLM-L6-v2's own pooling: mean over the real tokens, then L2 normalisation.
        weights = attention.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)
