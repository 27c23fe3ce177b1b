import json
from pathlib import Path

import pytest
import torch

from app.encoding.sentence_encoder import SentenceEncoder, load_sentence_transformer
from tests.conftest import mini_config
from training.layer_cache import LayerCachedEncoder
from training.train import train

TEXTS = ["what is dns?", "how are virtual machines billed per second of running time?", "a"]


def test_cached_top_layers_give_the_same_embeddings_as_the_full_model():
    full = SentenceEncoder(load_sentence_transformer()).eval()
    cached = LayerCachedEncoder(load_sentence_transformer(), frozen_layers=4).eval()
    with torch.no_grad():
        expected, first, again = full(TEXTS), cached(TEXTS), cached(list(reversed(TEXTS)))
    assert torch.allclose(expected, first, atol=1e-5)
    assert torch.allclose(expected, again.flip(0), atol=1e-5)  # second call: from the cache


def test_only_the_top_layers_learn():
    encoder = LayerCachedEncoder(load_sentence_transformer(), frozen_layers=4).train()
    encoder(TEXTS).sum().backward()
    bert = encoder.bert
    assert all(p.grad is None for p in bert.embeddings.parameters())
    assert all(p.grad is None for layer in bert.encoder.layer[:4] for p in layer.parameters())
    assert all(p.grad is not None for layer in bert.encoder.layer[4:] for p in layer.parameters())
    with pytest.raises(ValueError, match="frozen_layers"):
        LayerCachedEncoder(load_sentence_transformer(), frozen_layers=6)


def test_training_with_frozen_layers_saves_a_plain_servable(tmp_path: Path):
    result = train(mini_config(tmp_path, trainable_encoder=True, frozen_layers=4))
    config = json.loads((result.servable / "config.json").read_text())
    assert config["encoders"][0]["module"] == "app.encoding.sentence_encoder"
    assert config["encoders"][0]["class"] == "SentenceEncoder"
