"""The training-curves PNG written next to the servable."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: training runs on machines without a display

import matplotlib.pyplot as plt  # noqa: E402


def plot_training_curves(epochs: list[dict], path: Path, steps: list[dict] | None = None) -> None:
    xs = [e["epoch"] for e in epochs]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    if steps:
        axes[0].plot(
            [s["epoch"] for s in steps], [s["loss"] for s in steps], label="train (per step)", alpha=0.5
        )
    for ax, key, title in zip(
        axes,
        ("loss", "precision_at_1", "mrr"),
        ("loss", "precision@1 (in-batch, training batch size)", "MRR (in-batch, training batch size)"),
        strict=False,
    ):
        for stage in ("train", "val"):
            ys = [e[stage].get(key) for e in epochs]
            points = [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None]
            if points:
                # markers, so that a one- or few-epoch run still shows its points
                label = f"{stage} (epoch mean)" if stage == "train" else stage
                ax.plot(*zip(*points, strict=False), label=label, marker="o" if len(points) < 30 else None)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
