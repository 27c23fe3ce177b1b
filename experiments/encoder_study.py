"""Where an ask's time goes once the store costs nearly nothing: the encoders. Measures what
ONNX Runtime offers beside the servable's plain fp32 export, in one run:

- fp32: the export `faq train` writes (ONNX Runtime's default graph optimisations);
- fused fp32: ONNX Runtime's transformer optimiser (attention, layer norm and GELU fused);
- fused int8: the fused graph with dynamic int8 quantisation of its matrix products (this CPU
  has AVX-512 VNNI, the instructions int8 kernels use).

    python -m experiments.encoder_study --servable DIR --data faq.jsonl --paraphrases wordings.jsonl

For each variant and each side of the servable: a lone question's encode time (median over the
wordings, one at a time, variants interleaved so that a noisy machine hurts each alike), 16
questions in one call, and quality: each wording's answer among all the FAQ's answers
(precision@1 and MRR of the answer side; answers encoded by the same variant), and the cosine
of its embeddings to fp32's.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from app.domain.ask_sets import load_paraphrases
from app.domain.entry import unique_entries
from app.domain.records import load_faq
from app.encoding.onnx_runtime import ONNX_DIR, OnnxEncoder, fuse, quantise
from app.encoding.servable import Servable

logger = logging.getLogger(__name__)


def unit(rows: np.ndarray) -> np.ndarray:
    """As the service stores and queries vectors (`unit_rows`): the head's output need not be."""
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def ranks(queries: np.ndarray, answers: np.ndarray, right: list[int]) -> tuple[float, float]:
    scores = queries @ answers.T
    rank = [(scores[i] > scores[i, r]).sum() + 1 for i, r in enumerate(right)]
    return float(np.mean([r == 1 for r in rank])), float(np.mean([1.0 / r for r in rank]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.encoder_study", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--servable", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--paraphrases", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("var/bench/encoder_study.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    servable = Servable.load(args.servable, device="cpu")
    sides = servable._sides()  # the models behind each side, as export_onnx sees them
    entries = unique_entries(load_faq(args.data).entries)
    answers = list(dict.fromkeys(e.answer for e in entries))
    index = {a: i for i, a in enumerate(answers)}
    wordings = [p for p in load_paraphrases(args.paraphrases) if p.answer in index]
    questions = [p.query for p in wordings]
    right = [index[p.answer] for p in wordings]
    size = servable.meta.embedding_size
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side, model in sides.items():
            plain = args.servable / ONNX_DIR / f"{side}.onnx"
            # the variants `faq export-onnx` could write: as exported, fused, fused then int8
            files = {
                name: Path(tmp) / f"{side}-{name.replace(' ', '-')}.onnx"
                for name in ("fused fp32", "fused int8")
            }
            fuse(plain, files["fused fp32"])
            quantise(plain, files["fused int8"])
            files = {"fp32": plain, **files}
            encoders = {name: OnnxEncoder(path, model, args.threads) for name, path in files.items()}
            lone: dict[str, list[float]] = {name: [] for name in encoders}
            batch: dict[str, list[float]] = {name: [] for name in encoders}
            for i, text in enumerate(questions):
                for name, encoder in encoders.items():
                    started = time.perf_counter()
                    encoder.encode([text], size)
                    lone[name].append((time.perf_counter() - started) * 1000)
                if i % 8 == 0:
                    group = questions[i : i + 16]
                    for name, encoder in encoders.items():
                        started = time.perf_counter()
                        encoder.encode(group, size)
                        batch[name].append((time.perf_counter() - started) * 1000 / len(group))
            reference = unit(encoders["fp32"].encode(questions, size))
            for name, encoder in encoders.items():
                got = unit(encoder.encode(questions, size))
                row = {
                    "lone_ms_p50": round(statistics.median(lone[name]), 2),
                    "batch16_ms_per_question": round(statistics.median(batch[name]), 2),
                    "cosine_to_fp32_min": round(float(np.min(np.sum(got * reference, axis=1))), 4),
                }
                if side == "answer":
                    answer_vectors = unit(encoder.encode(answers, size))
                    p1, mrr = ranks(got, answer_vectors, right)
                    row |= {"precision_at_1": round(p1, 4), "mrr": round(mrr, 4)}
                report[f"{side} / {name}"] = row
                print(f"{side:>8} {name:>11} " + json.dumps(row))  # noqa: T201 (the study's output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
