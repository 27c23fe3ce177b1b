"""The servable's encoders in ONNX Runtime: the same transformer, pooling, normalisation and
head, exported from the PyTorch servable into `<servable>/onnx/`, and run without torch's
per-call overhead (a short question encodes about 4x faster on a CPU, measured in
docs/experiments.md). fp32 only: dynamic int8 quantisation was measured no faster here and
moved the embeddings (cosine 0.978 to the fp32 ones), so it is not offered.

`export_onnx` writes and checks the files (every side's embeddings must match PyTorch's);
`OnnxEncoder` runs one of them with the servable's own tokenisation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from quaterion_models.model import MetricModel

from app.encoding.sentence_encoder import DEFAULT_CHUNK_SIZE, length_chunks

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
REPORT = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Largest difference allowed between an ONNX and a PyTorch embedding (they are unit-scale).
TOLERANCE = 1e-4
CHECK_TEXTS = (
    "how am i charged for aws lambda?",
    "can i run a cluster or job for a long time?",
    "yes, cloud dataproc clusters can run for as long as you need, billed per second",
    "a",
)


class OnnxExportError(RuntimeError):
    pass


def _sentence_transformer(model: MetricModel):
    encoder = next(iter(model.encoders.values()))
    return encoder.model


class _Traceable(torch.nn.Module):
    """Token ids in, the MetricModel's embedding out: transformer, pooling, normalisation (the
    sentence-transformer's modules) and the head."""

    def __init__(self, model: MetricModel):
        super().__init__()
        self.st = _sentence_transformer(model)
        self.head = model.head

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        features = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }
        return self.head(self.st(features)["sentence_embedding"])


def export_model(model: MetricModel, target: Path) -> None:
    st = _sentence_transformer(model)
    sample = st.preprocess(list(CHECK_TEXTS[:2]))
    args = tuple(sample[name] for name in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"embedding": {0: "batch"}}
    traceable = _Traceable(model).eval()
    with torch.no_grad():
        torch.onnx.export(
            traceable,
            args,
            str(target),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


class OnnxEncoder:
    """One exported encoder, run by ONNX Runtime on the CPU."""

    def __init__(self, path: Path, model: MetricModel, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: a spinning pool steals the cores that
        # the store's query and the event loop need between two encodes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.st = _sentence_transformer(model)  # its tokenizer and max length, as in training
        self.path = path

    def encode(self, texts: Sequence[str], size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, size), dtype=np.float32)
        out = np.empty((len(texts), size), dtype=np.float32)
        for rows in length_chunks(texts, DEFAULT_CHUNK_SIZE):
            features = self.st.preprocess([texts[i] for i in rows])
            feed = {name: features[name].numpy().astype(np.int64) for name in INPUTS}
            out[rows] = self.session.run(None, feed)[0]
        return out


def export_onnx(servable_path: Path, sides: dict[str, MetricModel], threads: int = 1) -> dict:
    """Export each side's model into `<servable>/onnx/<side>.onnx` and check it against PyTorch;
    returns (and writes) the report. Nothing is left behind when a check fails."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ModuleNotFoundError:
        raise OnnxExportError(
            "exporting needs the `onnx` package (the full install: `make install`)"
        ) from None
    folder = servable_path / ONNX_DIR
    folder.mkdir(exist_ok=True)
    report: dict[str, dict] = {}
    try:
        for side, model in sides.items():
            target = folder / f"{side}.onnx"
            try:
                export_model(model, target)
            except KeyError as exc:  # a tokenizer without one of INPUTS: not a BERT-style model
                raise OnnxExportError(
                    f"cannot export the {side} encoder: its tokenizer gives no {exc}"
                ) from None
            with torch.inference_mode():
                expected = np.asarray(model.encode(list(CHECK_TEXTS), to_numpy=True), dtype=np.float32)
            got = OnnxEncoder(target, model, threads).encode(list(CHECK_TEXTS), expected.shape[1])
            difference = float(np.abs(got - expected).max())
            if difference > TOLERANCE:
                raise OnnxExportError(
                    f"the ONNX {side} encoder differs from PyTorch by {difference:.2e} (> {TOLERANCE:.0e})"
                )
            report[side] = {"file": target.name, "max_abs_difference": difference}
    except BaseException:
        for file in folder.glob("*"):
            file.unlink()
        folder.rmdir()
        raise
    (folder / REPORT).write_text(json.dumps(report, indent=2))
    logger.info("exported ONNX encoders to %s: %s", folder, report)
    return report
