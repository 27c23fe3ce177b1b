"""The servable's encoders in ONNX Runtime: the same transformer, pooling, normalisation and
head, exported from the PyTorch servable into `<servable>/onnx/`, and run without torch's
per-call overhead (a short question encodes about 4x faster on a CPU, measured in
experiments/README.md).

Each side is exported as `<side>.onnx` (fp32, equal to PyTorch within 1e-4; what the service
runs by default) and, asked for (`faq export-onnx --int8`), `<side>.int8.onnx`
(FAQ_RUNTIME=onnx-int8): ONNX Runtime's
transformer optimiser fuses attention, layer norm and GELU, then the matrix products are
quantised to int8 (dynamic, per channel), which CPUs with VNNI instructions run fast: 0.67x the
fp32 time for a lone question, 0.61x in batches of 16, answer precision unchanged on the cloud
paraphrases (`python -m experiments.encoder_study`). It is not the default: on the library FAQ the
decision rule fitted to int8 scores answered 12% of near-domain questions (fp32: 0) and showed
the right entry 2-3 points less often (docs/benchmarks.md). Quantising without the fusion
first was measured no faster and moved the embeddings more (cosine 0.978).

`export_onnx` writes and checks the files (fp32 must match PyTorch's embeddings; int8 must
keep a cosine of at least 0.98 to them); `OnnxEncoder` runs one with the servable's own
tokenisation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from quaterion_models.model import MetricModel

from app.encoding.sentence_encoder import DEFAULT_CHUNK_SIZE, length_chunks, preprocess

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
REPORT = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Largest difference allowed between an ONNX and a PyTorch embedding (they are unit-scale).
TOLERANCE = 1e-4
# Smallest cosine allowed between an int8 embedding and PyTorch's (measured: 0.9897 at worst on
# the 120 cloud paraphrases; answer precision unchanged).
INT8_MIN_COSINE = 0.98
INT8_SUFFIX = ".int8.onnx"
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


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def fuse(source: Path, target: Path) -> None:
    """`source` with attention, layer norm and GELU fused by ONNX Runtime's transformer
    optimiser (num_heads/hidden_size 0: read from the graph; MiniLM has 12 heads of 32)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimize_model(
        str(source), model_type="bert", num_heads=0, hidden_size=0, opt_level=1
    ).save_model_to_file(str(target))


def quantise(source: Path, target: Path) -> None:
    """`source` fused (see `fuse`), its matrix products in int8."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fused = target.with_name(f".{target.name}.fused")
    try:
        fuse(source, fused)
        # The fused graph's own operators defeat shape inference: their outputs are float.
        quantize_dynamic(
            str(fused),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        fused.unlink(missing_ok=True)


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
            features = preprocess(self.st, [texts[i] for i in rows])
            feed = {name: features[name].numpy().astype(np.int64) for name in INPUTS}
            out[rows] = self.session.run(None, feed)[0]
        return out


def export_onnx(
    servable_path: Path, sides: dict[str, MetricModel], threads: int = 1, int8: bool = False
) -> dict:
    """Export each side's model into `<servable>/onnx/<side>.onnx` and check it against PyTorch,
    and with `int8` its quantised version; returns (and writes) the report. Nothing is left
    behind when a check fails."""
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
            if not int8:
                continue
            quantised = folder / f"{side}{INT8_SUFFIX}"
            quantise(target, quantised)
            got = OnnxEncoder(quantised, model, threads).encode(list(CHECK_TEXTS), expected.shape[1])
            cosine = float(np.min(np.sum(_unit(got) * _unit(expected), axis=1)))
            if cosine < INT8_MIN_COSINE:
                raise OnnxExportError(
                    f"the int8 {side} encoder moved an embedding to cosine {cosine:.4f} (< {INT8_MIN_COSINE})"
                )
            report[side]["int8"] = {"file": quantised.name, "min_cosine": round(cosine, 5)}
    except BaseException:
        for file in folder.glob("*"):
            file.unlink()
        folder.rmdir()
        raise
    (folder / REPORT).write_text(json.dumps(report, indent=2))
    logger.info("exported ONNX encoders to %s: %s", folder, report)
    return report
