"""Both sides of a question in one pass where the two models share their bottom layers.

A servable trained with `--frozen-layers K` fine-tunes only the top layers of its encoder: its
embeddings and bottom K layers are the base encoder's, exactly, and the base encoder is its
question side (fused search, question_encoder "base"). Then a question needs the bottom K
layers once, and each side's top layers after them: 6 + (6 - K) layer passes instead of 12.
`SharedTrunk` is that pass (token ids in; the answer side's embedding, head applied, and the
question side's out), run by PyTorch or exported to ONNX as one graph with two outputs.

Whether a servable allows it is read from its weights (`shared_layers`), not assumed: a
servable whose bottom layers differ from its question model's is encoded a side at a time."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from quaterion_models.model import MetricModel
from torch import Tensor
from transformers.masking_utils import create_bidirectional_mask


def _bert(model: MetricModel) -> Any:
    encoder = next(iter(model.encoders.values()))
    return cast(Any, encoder.model[0]).auto_model


def shared_layers(answer: MetricModel, question: MetricModel) -> int:
    """How many bottom layers (with the embeddings) the two models hold identically: 0 when
    the embeddings differ, or when the models are not the same BERT-style shape."""
    try:
        a, q = _bert(answer), _bert(question)
        a_layers, q_layers = a.encoder.layer, q.encoder.layer
    except (AttributeError, IndexError, TypeError):
        return 0
    if len(a_layers) != len(q_layers) or not _same(a.embeddings, q.embeddings):
        return 0
    shared = 0
    for mine, theirs in zip(a_layers, q_layers, strict=True):
        if not _same(mine, theirs):
            break
        shared += 1
    return min(shared, len(a_layers) - 1)  # a top layer of its own, else they are one model


def _same(one: torch.nn.Module, other: torch.nn.Module) -> bool:
    mine, theirs = one.state_dict(), other.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def _pooled(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """all-MiniLM-L6-v2's own pooling: the mean over the real tokens, L2-normalised."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return F.normalize(pooled, p=2, dim=1)


class SharedTrunk(torch.nn.Module):
    """Token ids in; the answer side's embedding (its top layers, pooling and head) and the
    question side's (the base model's top layers and pooling) out, over one shared trunk."""

    def __init__(self, answer: MetricModel, question: MetricModel, layers: int):
        super().__init__()
        a, q = _bert(answer), _bert(question)
        self.config = q.config
        self.embeddings = q.embeddings
        self.trunk = torch.nn.ModuleList(q.encoder.layer[:layers])
        self.answer_top = torch.nn.ModuleList(a.encoder.layer[layers:])
        self.question_top = torch.nn.ModuleList(q.encoder.layer[layers:])
        self.head = answer.head
        self.layers = layers

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor
    ) -> tuple[Tensor, Tensor]:
        hidden = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        mask = create_bidirectional_mask(
            config=self.config, inputs_embeds=hidden, attention_mask=attention_mask
        )
        for layer in self.trunk:
            hidden = layer(hidden, mask)
        answer, question = hidden, hidden
        for layer in self.answer_top:
            answer = layer(answer, mask)
        for layer in self.question_top:
            question = layer(question, mask)
        return self.head(_pooled(answer, attention_mask)), _pooled(question, attention_mask)
