"""Loading a Quaterion servable and encoding texts with it (needs quaterion_models only)."""

from __future__ import annotations

import copy
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from quaterion_models.heads import EmptyHead
from quaterion_models.model import MetricModel

from app import timing
from app.encoding.device import resolve_device
from app.encoding.onnx_runtime import BOTH_FILE, INT8_SUFFIX, ONNX_DIR, OnnxEncoder, export_onnx
from app.encoding.priority import WriteEncoder
from app.encoding.sentence_encoder import (
    DEFAULT_CHUNK_SIZE,
    SentenceEncoder,
    default_model_path,
    length_chunks,
    load_sentence_transformer,
    preprocess,
)
from app.encoding.shared_trunk import SharedTrunk, shared_layers

logger = logging.getLogger(__name__)

SERVABLE_META = "faq_servable.json"
# Ids of the entries the encoder was trained on, one a line (the rule's accuracy estimate
# leaves them out: a trained entry flatters the encoder).
TRAINED_ENTRIES = "trained_entries.txt"
# A second MetricModel inside the servable directory, for the question side of fused search
# (search setting question_encoder "base"): the untrained sentence-similarity encoder.
QUESTION_MODEL_DIR = "question_encoder"


# Servables name their encoder class by module path in config.json, and MetricModel.load imports
# it by that path. Those written before the code moved name the old module: it is aliased to the
# new one, so a servable trained by an earlier release still loads.
LEGACY_MODULES = {"app.core.encoder": "app.encoding.sentence_encoder"}


def _alias_legacy_modules() -> None:
    for old, new in LEGACY_MODULES.items():
        sys.modules.setdefault(old, importlib.import_module(new))


class ServableError(RuntimeError):
    """A servable that is missing or cannot be loaded."""


@dataclass
class ServableMeta:
    """What `faq train` knew when it saved the servable, stored beside Quaterion's own files."""

    base_model: str = ""
    embedding_size: int = 0
    trained_on: str = ""
    train_pairs: int = 0
    val_pairs: int = 0
    # Extra training pairs (faq train --extra-pairs): how many were added and left out.
    extra_pairs: dict | None = None
    training_seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    # How the service matches questions with this servable (app.search.settings.SearchSettings);
    # training records it so that evaluation, the index and the service all search alike.
    search: dict = field(default_factory=dict)
    # How the no-answer threshold in `search` was chosen (training.calibration).
    calibration: dict = field(default_factory=dict)
    # The decision rule (answer / ask back / decline, app.search.decision) fitted to the FAQ the
    # servable was trained on; the index job fits one to the FAQ it indexes.
    decision: dict = field(default_factory=dict)
    # The encoder's precision@1 of questions to answers on entries held out of training (pools
    # of 64): the rule's estimate of how often a top entry is right. None: not measured.
    encoder_accuracy: float | None = None
    # Whether `faq train` fine-tuned the encoder or kept the base one, and why (measured).
    choice: dict = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, path: Path) -> ServableMeta:
        if not path.is_file():
            return cls()
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ServableError(f"cannot read {path}: {exc}") from None
        if not isinstance(record, dict):
            raise ServableError(f"cannot read {path}: expected a JSON object")
        # Keys written by a newer version are ignored (logged), so an old service still starts.
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(record) - known)
        if unknown:
            logger.warning("%s: ignoring unknown keys %s", path, ", ".join(unknown))
        meta = cls(**{k: v for k, v in record.items() if k in known})
        if not isinstance(meta.search, dict) or not isinstance(meta.settings, dict):
            raise ServableError(f"cannot read {path}: 'search' and 'settings' must be JSON objects")
        return meta


class Servable:
    """A loaded MetricModel on one device, encoding batches of texts into float32 vectors."""

    def __init__(
        self,
        model: MetricModel,
        path: Path,
        device: str,
        meta: ServableMeta,
        question_model: MetricModel | None = None,
        spec: tuple[str, ...] | None = None,
    ):
        self.model = model
        self.path = path
        self.device = device
        self.meta = meta
        # Encodes stored FAQ questions and the user's question for the question side of fused
        # search; the servable's own model when the servable has no separate one.
        self.question_model = question_model or model
        # ONNX Runtime sessions per side ("answer", "question") when the servable has them and
        # the runtime setting allows: see `use_runtime`.
        self.onnx: dict[str, OnnxEncoder] = {}
        # How to load this servable again in another process (the write encoder's): given by
        # `load` and `from_base_model`; None for one built otherwise.
        self._spec = spec
        # Where this servable's encoding goes: a writes' servable (`for_writes`) sends it to the
        # service's write-encoding process; None: here.
        self._writes: WriteEncoder | None = None
        # Bottom layers the answer side shares with its question model (a servable trained with
        # --frozen-layers): both sides of a question over them in one pass (app.encoding.shared_trunk).
        self.trunk_layers = shared_layers(model, self.question_model) if self.has_question_model else 0
        self._trunk: SharedTrunk | None = None
        self._one_tokenizing = False

    @property
    def runtime(self) -> str:
        if not self.onnx:
            return "torch"
        return "onnx-int8" if all(e.path.name.endswith(INT8_SUFFIX) for e in self.onnx.values()) else "onnx"

    def use_runtime(self, runtime: str) -> str:
        """Encode with ONNX Runtime in fp32 (`onnx`; `auto`: when exported), in int8
        (`onnx-int8`: faster, scores slightly moved, see onnx_runtime), or PyTorch (`torch`).
        PyTorch is the fallback: for a GPU, a servable without ONNX files, or no onnxruntime;
        fp32 is int8's (int8 is exported on request: `faq export-onnx --int8`)."""
        self.onnx = {}
        self._one_tokenizing = False  # both sides' ONNX sessions fed one tokenizing (encode_both)
        if runtime == "torch":
            return self.runtime
        folder = self.path / ONNX_DIR
        sides = (
            {"answer": self.model, "question": self.question_model}
            if self.has_question_model
            else {"answer": self.model}
        )
        reason = None
        suffix = ".onnx"
        if runtime == "onnx-int8":
            if all((folder / f"{side}{INT8_SUFFIX}").is_file() for side in sides):
                suffix = INT8_SUFFIX
            else:
                logger.warning("no int8 export in %s (run `faq export-onnx --int8`): trying fp32", folder)
        if self.device != "cpu":
            reason = f"the device is {self.device}"
        elif not all((folder / f"{side}{suffix}").is_file() for side in sides):
            reason = f"no ONNX export in {folder} (run `faq export-onnx`)"
        if reason is None:
            try:
                self.onnx = {
                    side: OnnxEncoder(folder / f"{side}{suffix}", model, torch.get_num_threads())
                    for side, model in sides.items()
                }
                if self.trunk_layers and suffix == ".onnx" and (folder / BOTH_FILE).is_file():
                    self.onnx["both"] = OnnxEncoder(folder / BOTH_FILE, self.model, torch.get_num_threads())
                self._one_tokenizing = "question" in self.onnx and self.onnx["answer"].same_tokenizer(
                    self.onnx["question"]
                )
            except Exception as exc:  # a missing onnxruntime, a corrupt file: PyTorch still works
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            log = logger.warning if runtime != "auto" else logger.info
            log("encoding with PyTorch: %s", reason)
        logger.info("servable %s encodes with %s", self.path, self.runtime)
        return self.runtime

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        device: str = "auto",
        runtime: str = "torch",
        *,
        being_written: bool = False,
    ) -> Servable:
        """The servable at `path`. `being_written`: `faq train` loading the servable it is
        making (its decision rule is fitted next, so its absence is not worth a word)."""
        servable_path = Path(path)
        if not (servable_path / "config.json").is_file():
            raise ServableError(
                f"no servable at {servable_path}: train one with `faq train --output {servable_path}`"
            )
        resolved = resolve_device(device)
        _alias_legacy_modules()
        try:
            model = MetricModel.load(str(servable_path))
        except Exception as exc:  # any failure here means the directory is not a usable servable
            raise ServableError(f"cannot load the servable at {servable_path}: {exc}") from exc
        meta = ServableMeta.read(servable_path / SERVABLE_META)
        question_model = None
        question_dir = servable_path / QUESTION_MODEL_DIR
        if meta.search.get("question_encoder") == "base" or question_dir.exists():
            try:
                question_model = MetricModel.load(str(question_dir))
            except Exception as exc:
                raise ServableError(f"cannot load the question encoder at {question_dir}: {exc}") from exc
            question_model.to(resolved)
            question_model.eval()
        model.to(resolved)
        model.eval()
        logger.info("servable %s loaded on %s", servable_path, resolved)
        if not meta.decision and not being_written:
            # A servable of an older release (no `choice` either) is worth a warning; one
            # trained with --no-calibrate (or being written by `faq train`) is not.
            log = logger.info if meta.choice else logger.warning
            log(
                "servable %s has no decision rule: `faq index` fits one to the FAQ it indexes "
                "(retrain with `faq train` to record one in the servable)",
                servable_path,
            )
        servable = cls(
            model,
            servable_path,
            resolved,
            meta,
            question_model,
            spec=("servable", str(servable_path), runtime),
        )
        servable.use_runtime(runtime)
        return servable

    def export_onnx(self, int8: bool = False) -> dict:
        """Export this servable's encoders to ONNX into its directory (checked against PyTorch),
        with int8 versions beside them when asked; the answer side with its embedding before the
        head as a second output when the question side is that."""
        return export_onnx(
            self.path,
            self._sides(),
            threads=torch.get_num_threads(),
            int8=int8,
            both=self.question_from_encoder,
            trunk=self.trunk_layers,
        )

    def _sides(self) -> dict[str, MetricModel]:
        """The models by side: the answer side, and the question side when it has its own."""
        if self.has_question_model:
            return {"answer": self.model, "question": self.question_model}
        return {"answer": self.model}

    @classmethod
    def from_base_model(
        cls, model_path: str | os.PathLike[str] | None = None, device: str = "auto"
    ) -> Servable:
        """The untrained encoder behind the same interface (an identity head), for comparisons."""
        model = base_question_model(model_path)
        encoder_size = model.head.output_size
        resolved = resolve_device(device)
        model.to(resolved)
        model.eval()
        path = Path(model_path) if model_path else default_model_path()
        meta = ServableMeta(base_model=str(path), embedding_size=encoder_size)
        return cls(model, path, resolved, meta, spec=("base", str(path)))

    def spec(self) -> tuple[str, ...] | None:
        """What another process needs to load this servable as it is (`from_spec`); None when
        it cannot, or should not: one built in memory, or one on a GPU (one process encodes
        there fast enough, and a second would need a second copy in the GPU's memory)."""
        return self._spec if self.device == "cpu" else None

    @classmethod
    def from_spec(cls, spec: Sequence[str]) -> Servable:
        """The servable `spec()` describes, loaded on the CPU."""
        kind, path, *rest = spec
        if kind == "base":
            return cls.from_base_model(path, device="cpu")
        return cls.load(path, device="cpu", runtime=rest[0] if rest else "torch")

    @cached_property
    def trained_ids(self) -> frozenset[str]:
        """Ids of the entries this servable's encoder was trained on (none for a base one)."""
        path = self.path / TRAINED_ENTRIES
        if not path.is_file():
            return frozenset()
        return frozenset(
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        )

    @property
    def has_question_model(self) -> bool:
        """Whether the servable carries its own encoder for the question side."""
        return self.question_model is not self.model

    @property
    def question_from_encoder(self) -> bool:
        """Whether the question side is the servable's own encoder before its head (search
        setting question_encoder "encoder"): both sides of a question in one forward. For a
        servable trained with its encoder frozen, that encoder is the base one."""
        return self.meta.search.get("question_encoder") == "encoder"

    @property
    def tokenizer(self):
        """The WordPiece tokenizer of the servable's encoder (for the lexical side of search)."""
        encoder = next(iter(self.model.encoders.values()))
        return encoder.model.tokenizer

    @property
    def embedding_size(self) -> int:
        return int(self.model.head.output_size)

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embeddings of `texts` (answers, and the user's question matched against answers) as a
        (len(texts), embedding_size) float32 array."""
        elsewhere = self._encoded_for_a_write("answer", texts, batch_size)
        if elsewhere is not None:
            return elsewhere
        if "answer" in self.onnx:
            return self.onnx["answer"].encode(texts, self.embedding_size, timing.ENCODE_ANSWER)
        with timing.stage(timing.ENCODE_ANSWER):
            return _encode(self.model, texts, batch_size, self.embedding_size)

    def encode_question_side(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embeddings for the question side of fused search: stored FAQ questions, and the
        user's question matched against them."""
        if not self.has_question_model and not self.question_from_encoder:
            return self.encode(texts, batch_size)
        elsewhere = self._encoded_for_a_write("question", texts, batch_size)
        if elsewhere is not None:
            return elsewhere
        if self.question_from_encoder:
            return self._both(texts, batch_size, timing.ENCODE_QUESTION)[1]
        if "question" in self.onnx:
            return self.onnx["question"].encode(texts, self.embedding_size, timing.ENCODE_QUESTION)
        with timing.stage(timing.ENCODE_QUESTION):
            return _encode(self.question_model, texts, batch_size, self.embedding_size)

    def encode_both(self, texts: Sequence[str], batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """A question's embeddings for the answer side and the question side: one forward when
        the question side is the servable's encoder before its head, else one a side (the same
        array twice when both sides are one model)."""
        if self.question_from_encoder:
            return self._both(texts, batch_size, timing.ENCODE_BOTH)
        if self.trunk_layers and self._writes is None:
            return self._over_trunk(texts)
        if self._one_tokenizing:
            return self.onnx["answer"].encode_with(self.onnx["question"], texts, self.embedding_size)
        answer = self.encode(texts, batch_size)
        return answer, self.encode_question_side(texts, batch_size) if self.has_question_model else answer

    def _over_trunk(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Both sides over the bottom layers they share, in one pass."""
        if "both" in self.onnx:
            return self.onnx["both"].encode_both(texts, self.embedding_size, timing.ENCODE_BOTH)
        if self._trunk is None:
            self._trunk = SharedTrunk(self.model, self.question_model, self.trunk_layers).eval()
        st = next(iter(self.model.encoders.values())).model
        answers = np.empty((len(texts), self.embedding_size), dtype=np.float32)
        questions = np.empty_like(answers)
        with torch.inference_mode():
            for rows in length_chunks(texts, DEFAULT_CHUNK_SIZE):
                with timing.stage(timing.TOKENIZE):
                    features = preprocess(st, [texts[i] for i in rows])
                with timing.stage(timing.ENCODE_BOTH):
                    answer, question = self._trunk(
                        features["input_ids"], features["attention_mask"], features["token_type_ids"]
                    )
                answers[rows], questions[rows] = answer.numpy(), question.numpy()
        return answers, questions

    def _both(self, texts: Sequence[str], batch_size: int, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """The head's embeddings and the encoder's (before the head), in one forward."""
        if "answer" in self.onnx and self.onnx["answer"].both:
            return self.onnx["answer"].encode_both(texts, self.embedding_size, stage)
        empty = np.zeros((0, self.embedding_size), dtype=np.float32)
        if not texts:
            return empty, empty
        encoder = next(iter(self.model.encoders.values()))
        with timing.stage(stage), torch.inference_mode():
            before = encoder(list(texts))
            after = self.model.head(before)
        return after.numpy().astype(np.float32), before.numpy().astype(np.float32)

    def for_writes(self, writes: WriteEncoder | None) -> Servable:
        """This servable (the same models, not a copy of them) encoding through the service's
        write-encoding process (app.encoding.priority): what writes encode with. None: itself."""
        if writes is None:
            return self
        writing = copy.copy(self)
        writing._writes = writes
        return writing

    def _encoded_for_a_write(self, side: str, texts: Sequence[str], batch_size: int) -> np.ndarray | None:
        """`texts` encoded by the write-encoding process when this is a writes' servable
        (`for_writes`); None: encode here."""
        return None if self._writes is None else self._writes.encode(self, side, texts, batch_size)


def _encode(model: MetricModel, texts: Sequence[str], batch_size: int, size: int) -> np.ndarray:
    if not texts:
        return np.zeros((0, size), dtype=np.float32)
    with torch.inference_mode():
        vectors = model.encode(list(texts), batch_size=batch_size, to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def base_question_model(model_path: str | os.PathLike[str] | None = None) -> MetricModel:
    """The base sentence encoder as a MetricModel (identity head), saved into servables whose
    question side uses it."""
    encoder = SentenceEncoder(load_sentence_transformer(model_path))
    return MetricModel(encoders=encoder, head=EmptyHead(encoder.embedding_size))
