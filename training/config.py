"""Every training option, defined once: `TrainConfig`, and the named recipes as instances of it.

`faq train`'s options carry the same names as these fields (and as `SearchSettings`' fields for
how the servable will search); the CLI passes whatever the user set to `TrainConfig.from_recipe`.
Kept free of torch and quaterion imports so the CLI can build it cheaply. Measured in
experiments/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.config import DEFAULT_CACHE_DIR, DEFAULT_SERVABLE
from app.search.settings import SERVED_SEARCH, SearchSettings


@dataclass(frozen=True)
class TrainConfig:
    # What is trained: a frozen encoder (head only, over Quaterion's embedding cache) or the
    # whole encoder; `frozen_layers` keeps that many bottom layers frozen and cached.
    trainable_encoder: bool = True
    frozen_layers: int = 0
    head_layers: int = 1
    head_dropout: float = 0.0
    # Optimisation.
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr: float = 5e-5
    warmup_fraction: float = 0.1
    loss_scale: float = 20.0
    symmetric_loss: bool = True
    # Batches that keep a FAQ page's entries together: hard in-batch negatives.
    hard_negatives: bool = True
    seed: int = 42
    # How the service will search with the servable (recorded in it), and whether its
    # no-answer threshold is calibrated (training.calibration), with which unanswerable questions.
    search: SearchSettings = field(default_factory=SearchSettings)
    calibrate: bool = True
    out_of_domain: Path | None = None
    # Export the encoders to ONNX into the servable (app.encoding.onnx_runtime).
    onnx: bool = True
    # Fine-tune (finetune), serve the base encoder (base), or decide by measurement (auto: see
    # training.choice).
    encoder: str = "auto"
    # Where from and where to; not part of a recipe.
    data: Path | None = None
    data_format: str | None = None
    # More (question, answer) pairs for the training split only, e.g. `faq feedback export`.
    extra_pairs: Path | None = None
    output: Path = DEFAULT_SERVABLE
    device: str = "auto"
    model_path: Path | None = None
    cache_dir: Path | None = DEFAULT_CACHE_DIR
    skip_invalid: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be at least 1 and batch_size at least 2")
        if self.frozen_layers and not self.trainable_encoder:
            raise ValueError("frozen_layers needs a trainable encoder")
        if self.encoder not in ("auto", "finetune", "base"):
            raise ValueError(f"unknown encoder choice '{self.encoder}': use auto, finetune or base")

    @classmethod
    def from_recipe(cls, name: str, **overrides: Any) -> TrainConfig:
        """The recipe `name` with `overrides` applied: names of this class's fields or of
        `SearchSettings`' fields; None means "the recipe's value"."""
        if name not in RECIPES:
            raise ValueError(f"unknown recipe '{name}': use one of {', '.join(RECIPES)}")
        recipe = RECIPES[name]
        own = {f.name for f in fields(cls)} - {"search"}
        searching = {f.name for f in fields(SearchSettings)}
        given = {key: value for key, value in overrides.items() if value is not None}
        unknown = sorted(set(given) - own - searching)
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(unknown)}")
        search = replace(recipe.search, **{k: v for k, v in given.items() if k in searching})
        return replace(recipe, search=search, **{k: v for k, v in given.items() if k in own})


RECIPES: dict[str, TrainConfig] = {
    # The default: one epoch of fine-tuning the whole encoder on same-page batches (~3-4 min on
    # 2 cores), served with app.search.settings.SERVED_SEARCH.
    "finetune": TrainConfig(search=SERVED_SEARCH),
    # The reference tutorial's recipe, tuned: frozen encoder with Quaterion's embedding cache,
    # only the SkipConnectionHead learns; answers-only search as in the tutorial.
    "reference": TrainConfig(
        trainable_encoder=False,
        hard_negatives=False,
        epochs=60,
        batch_size=1024,
        lr=3e-3,
        search=SearchSettings(mode="answer"),
    ),
}
# The head of the reference recipe over the frozen (base) encoder, served with fused search
# whose question side is that same encoder before the head: both sides of a question in one
# forward (app.encoding.servable.encode_both).
RECIPES["shared"] = replace(RECIPES["reference"], search=replace(SERVED_SEARCH, question_encoder="encoder"))
DEFAULT_RECIPE = "finetune"
