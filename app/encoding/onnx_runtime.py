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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from quaterion_models.model import MetricModel

from app import timing
from app.encoding.sentence_encoder import DEFAULT_CHUNK_SIZE, length_chunks, preprocess

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
REPORT = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "embedding"
# The question side's embedding, as a second output: the embedding before the head
# (`export_model(both=True)`), or the base model's over a shared trunk (app.encoding.shared_trunk).
QUESTION_OUTPUT = "question_embedding"
# The export of both sides over a shared trunk, beside the answer and question exports.
BOTH_FILE = "both.onnx"
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
    sentence-transformer's modules) and the head; with `both`, the embedding before the head
    too (the question side of a servable that takes it from its own encoder)."""

    def __init__(self, model: MetricModel, both: bool = False):
        super().__init__()
        self.st = _sentence_transformer(model)
        self.head = model.head
        self.both = both

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        features = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }
        encoded = self.st(features)["sentence_embedding"]
        return (self.head(encoded), encoded) if self.both else self.head(encoded)


def export_model(model: MetricModel, target: Path, both: bool = False) -> None:
    export_module(_Traceable(model, both), model, target, both)


def export_module(module: torch.nn.Module, model: MetricModel, target: Path, both: bool) -> None:
    """`module` (token ids in; an embedding, or with `both` the answer side's and the question
    side's, out) to ONNX, traced on `model`'s tokenizing of sample texts."""
    st = _sentence_transformer(model)
    sample = st.preprocess(list(CHECK_TEXTS[:2]))
    args = tuple(sample[name] for name in INPUTS)
    outputs = [OUTPUT, QUESTION_OUTPUT] if both else [OUTPUT]
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {name: {0: "batch"} for name in outputs}
    with torch.no_grad():
        torch.onnx.export(
            module.eval(),
            args,
            str(target),
            input_names=list(INPUTS),
            output_names=outputs,
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
    """One exported encoder, run by ONNX Runtime on the CPU: a session of one thread, its
    chunks (and, with `encode_with`, another encoder's) run side by side on `threads` threads.

    Measured on 2 cores (the fine-tuned cloud servable, ONNX fp32): both sides of one question
    in 6.1 ms side by side against 10.3 ms one after the other with two threads each; 16
    questions in 44 ms against 57 ms; 512 answers on one side in 1.75 s against 1.85 s. A
    small model's forward does not split well over threads; whole chunks do."""

    def __init__(self, path: Path, model: MetricModel, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: a spinning pool steals the cores that
        # the store's query and the event loop need between two encodes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.st = _sentence_transformer(model)  # its tokenizer and max length, as in training
        self.path = path
        # Whether it gives the embedding before the head too (one forward for both sides).
        self.both = QUESTION_OUTPUT in {output.name for output in self.session.get_outputs()}
        # The threads beside the caller's that run chunks (ONNX Runtime releases the GIL).
        self._pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="onnx") if threads > 1 else None

    def encode(self, texts: Sequence[str], size: int, stage: str = timing.ENCODE_ANSWER) -> np.ndarray:
        return self.encode_both(texts, size, stage)[0]

    def same_tokenizer(self, other: OnnxEncoder) -> bool:
        """Whether `other` splits texts as this encoder does (a fine-tuned model and its base)."""
        mine, theirs = self.st.tokenizer, other.st.tokenizer
        return mine.get_vocab() == theirs.get_vocab() and self.st.max_seq_length == other.st.max_seq_length

    def _feeds(self, texts: Sequence[str]) -> list[tuple[list[int], dict[str, np.ndarray]]]:
        """The texts tokenized, a chunk of similar lengths at a time: (rows, the session's feed)."""
        feeds = []
        with timing.stage(timing.TOKENIZE):
            for rows in length_chunks(texts, DEFAULT_CHUNK_SIZE):
                features = preprocess(self.st, [texts[i] for i in rows])
                feeds.append((rows, {name: features[name].numpy().astype(np.int64) for name in INPUTS}))
        return feeds

    def _run(self, jobs: list[tuple[Any, dict[str, np.ndarray]]]) -> list[list[np.ndarray]]:
        """Each (session, feed) run, side by side on the pool and this thread, results in order."""
        if self._pool is None or len(jobs) <= 1:
            return [session.run(None, feed) for session, feed in jobs]
        later = [self._pool.submit(session.run, None, feed) for session, feed in jobs[1:]]
        first = jobs[0][0].run(None, jobs[0][1])
        return [first, *(future.result() for future in later)]

    def encode_with(
        self, other: OnnxEncoder, texts: Sequence[str], size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """`texts` by this encoder (the answer side) and by `other` (the question side), side by
        side, each text tokenized once for both (the two share their tokenizer)."""
        out = np.empty((len(texts), size), dtype=np.float32)
        theirs = np.empty((len(texts), size), dtype=np.float32)
        feeds = self._feeds(texts)
        with timing.stage(timing.ENCODE_BOTH):
            results = self._run([(s.session, feed) for _, feed in feeds for s in (self, other)])
        for n, (rows, _) in enumerate(feeds):
            out[rows], theirs[rows] = results[2 * n][0], results[2 * n + 1][0]
        return out, theirs

    def encode_both(
        self, texts: Sequence[str], size: int, stage: str = timing.ENCODE_BOTH
    ) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings of `texts`, and (a two-output export) the question side's; else the
        same array twice."""
        out = np.empty((len(texts), size), dtype=np.float32)
        second = np.empty((len(texts), size), dtype=np.float32) if self.both else out
        feeds = self._feeds(texts)
        with timing.stage(stage):
            results = self._run([(self.session, feed) for _, feed in feeds])
        for (rows, _), result in zip(feeds, results, strict=True):
            out[rows] = result[0]
            if self.both:
                second[rows] = result[1]
        return out, second


def _export_trunk(
    target: Path, answer: MetricModel, question: MetricModel, layers: int, threads: int
) -> dict:
    """Both sides over their shared bottom `layers` as one graph, checked against each side's
    own PyTorch encoding."""
    from app.encoding.shared_trunk import SharedTrunk

    export_module(SharedTrunk(answer, question, layers), answer, target, both=True)
    with torch.inference_mode():
        expected = [
            np.asarray(m.encode(list(CHECK_TEXTS), to_numpy=True), dtype=np.float32)
            for m in (answer, question)
        ]
    got = OnnxEncoder(target, answer, threads).encode_both(list(CHECK_TEXTS), expected[0].shape[1])
    difference = max(float(np.abs(g - e).max()) for g, e in zip(got, expected, strict=True))
    if difference > TOLERANCE:
        raise OnnxExportError(f"the ONNX encoder of both sides differs from PyTorch by {difference:.2e}")
    return {"file": target.name, "shared_layers": layers, "max_abs_difference": difference}


def export_onnx(
    servable_path: Path,
    sides: dict[str, MetricModel],
    threads: int = 1,
    int8: bool = False,
    both: bool = False,
    trunk: int = 0,
) -> dict:
    """Export each side's model into `<servable>/onnx/<side>.onnx` and check it against PyTorch,
    and with `int8` its quantised version; returns (and writes) the report. `both`: the answer
    side's export gives its embedding before the head too; `trunk`: the two sides share that
    many bottom layers, and `both.onnx` encodes both over them (app.encoding.shared_trunk).
    Nothing is left behind when a check fails."""
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
                export_model(model, target, both=both and side == "answer")
            except KeyError as exc:  # a tokenizer without one of INPUTS: not a BERT-style model
                raise OnnxExportError(
                    f"cannot export the {side} encoder: its tokenizer gives no {exc}"
                ) from None
            with torch.inference_mode():
                expected = np.asarray(model.encode(list(CHECK_TEXTS), to_numpy=True), dtype=np.float32)
            got, got_before = OnnxEncoder(target, model, threads).encode_both(
                list(CHECK_TEXTS), expected.shape[1]
            )
            difference = float(np.abs(got - expected).max())
            if both and side == "answer":  # its second output: the embedding before the head
                with torch.inference_mode():
                    expected_before = next(iter(model.encoders.values()))(list(CHECK_TEXTS)).numpy()
                difference = max(difference, float(np.abs(got_before - expected_before).max()))
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
        if trunk:
            report["both"] = _export_trunk(
                folder / BOTH_FILE, sides["answer"], sides["question"], trunk, threads
            )
    except BaseException:
        for file in folder.glob("*"):
            file.unlink()
        folder.rmdir()
        raise
    (folder / REPORT).write_text(json.dumps(report, indent=2))
    logger.info("exported ONNX encoders to %s: %s", folder, report)
    return report
