"""Named training recipes: the settings `faq train` starts from (explicit options override).

Kept free of heavy imports so the CLI can show them in --help without loading torch.
Measured in docs/experiments.md.
"""

from __future__ import annotations

RECIPES: dict[str, dict] = {
    # The default: one epoch of fine-tuning the whole encoder on same-page batches (~3-4 min
    # on 2 cores); the service matches the user's question against the answers with the
    # fine-tuned encoder and against the page-contextual FAQ questions with the base encoder,
    # and sums the scores (question side 0.7).
    "finetune": {
        "trainable_encoder": True,
        "hard_negatives": True,
        "epochs": 1,
        "batch_size": 64,
        "lr": 1e-3,
        "encoder_lr": 5e-5,
        "search_mode": "fused",
        "fusion": "sum",
        "question_weight": 0.7,
        "question_context": True,
        "question_encoder": "base",
    },
    # The reference tutorial's recipe, tuned: frozen encoder with Quaterion's embedding cache,
    # only the SkipConnectionHead learns; answers-only search as in the tutorial.
    "reference": {
        "trainable_encoder": False,
        "hard_negatives": False,
        "epochs": 60,
        "batch_size": 1024,
        "lr": 3e-3,
        "encoder_lr": 5e-5,
        "search_mode": "answer",
        "fusion": "max",
        "question_weight": 0.5,
        "question_context": False,
        "question_encoder": "servable",
    },
}
DEFAULT_RECIPE = "finetune"


def recipe_settings(name: str, **overrides: object) -> dict:
    """The recipe's settings with every override that is not None applied."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe '{name}': use one of {', '.join(RECIPES)}")
    settings = dict(RECIPES[name])
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return settings
