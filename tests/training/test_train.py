import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.encoding.servable import SERVABLE_META, TRAINED_ENTRIES
from tests.conftest import MINI_FAQ, MINI_PARAPHRASES, REAL_FAQ, mini_config, requires_real_data
from training.config import TrainConfig
from training.train import CURVES_FILE, METRICS_FILE, train


def test_training_writes_servable_metrics_and_curves(trained_servable: Path):
    assert (trained_servable / "config.json").is_file()
    assert (trained_servable / CURVES_FILE).stat().st_size > 10_000
    metrics = json.loads((trained_servable / METRICS_FILE).read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    # 30 train pairs in batches of 8: 4 steps an epoch, each step's loss recorded
    assert [s["epoch"] for s in metrics["steps"]][:4] == [0.25, 0.5, 0.75, 1.0]
    assert len(metrics["steps"]) == 12 and all(s["loss"] > 0 for s in metrics["steps"])
    for epoch in metrics["epochs"]:
        for stage in ("train", "val"):
            assert 0.0 <= epoch[stage]["precision_at_1"] <= 1.0
            assert 0.0 < epoch[stage]["mrr"] <= 1.0
            assert epoch[stage]["loss"] > 0
    meta = json.loads((trained_servable / SERVABLE_META).read_text())
    assert meta["embedding_size"] == 384
    assert (meta["train_pairs"], meta["val_pairs"]) == (30, 10)


def test_the_servable_carries_its_decision_rule_and_what_it_learnt_from(trained_servable: Path):
    meta = json.loads((trained_servable / SERVABLE_META).read_text())
    assert meta["choice"]["encoder"] == "finetune"
    assert meta["search"]["no_answer_threshold"] is None  # the rule decides, not one threshold
    rule = meta["decision"]
    assert rule["entries"] == 40
    assert rule["related_score"] <= rule["clarify_score"] <= rule["answer_score"] < 1.0
    assert 0.0 < rule["answer_margin"] < 0.5
    assert "leave-one-out" in meta["calibration"]["method"]
    # the rule's accuracy estimate: the 10 held-out entries, not the 30 trained on
    trained = (trained_servable / TRAINED_ENTRIES).read_text().split()
    assert len(trained) == 30
    # (10 are too few to measure on again: the accuracy `faq train` measured on them is used)
    assert rule["fitted"]["encoder_accuracy_from"] == "measured by `faq train` on its held-out entries"
    assert rule["fitted"]["encoder_accuracy"] == meta["encoder_accuracy"]
    assert 0.0 < meta["encoder_accuracy"] <= 1.0


def test_a_small_faq_is_served_with_the_base_encoder_and_calibration_can_be_off(tmp_path):
    result = train(mini_config(tmp_path, encoder="auto", calibrate=False))
    meta = json.loads((result.servable / SERVABLE_META).read_text())
    assert meta["choice"]["encoder"] == "base" and "too small" in meta["choice"]["reason"]
    assert result.epochs == [] and meta["train_pairs"] == 0
    assert not (result.servable / TRAINED_ENTRIES).exists()
    assert meta["decision"] == {} and meta["calibration"] == {}
    assert meta["search"]["question_weight"] == 0.5 and meta["search"]["question_context"] is False


def test_given_unanswerable_questions_are_a_check_of_the_rule(tmp_path):
    mine = tmp_path / "ood.jsonl"
    mine.write_text(
        '{"query": "how do i bake bread", "kind": "near"}\n{"query": "who won the match", "kind": "far"}\n'
    )
    result = train(mini_config(tmp_path / "other", encoder="base", out_of_domain=mine))
    meta = json.loads((result.servable / SERVABLE_META).read_text())
    assert meta["calibration"]["out_of_domain_answered"] == {"far": 0.0, "near": 0.0}
    assert meta["choice"]["reason"].startswith("asked for (--encoder base)")


def test_fine_tuning_is_kept_only_when_it_beats_the_base_encoder(trained_servable: Path, base_servable):
    """Two cases whose answer is known without the rule: an encoder against itself gains
    nothing (kept: the base one); the fine-tuned encoder asked the questions it was trained on
    beats the base encoder (kept: the fine-tuned one). Precisions checked against a plain
    argmax over the answers, computed here."""
    import numpy as np

    from app.domain.records import load_faq
    from app.domain.split import split_entries
    from app.encoding.servable import Servable
    from training.choice import compare

    entries = load_faq(MINI_FAQ).entries
    split = split_entries(entries)
    trained = Servable.load(trained_servable, device="cpu")

    def precision(servable, questions) -> float:
        answers = list(dict.fromkeys(e.answer for e in entries))
        a = servable.encode(answers)
        q = servable.encode([e.question for e in questions])
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        top = (q @ a.T).argmax(axis=1)
        return float(np.mean([answers[t] == e.answer for t, e in zip(top, questions, strict=True)]))

    same = compare(base_servable, base_servable, entries, split.val)
    assert same.encoder == "base" and same.held_out == 10
    assert (
        same.base_precision == same.finetuned_precision == pytest.approx(precision(base_servable, split.val))
    )
    assert "does not help enough" in same.reason

    learnt = compare(trained, base_servable, entries, split.train)
    assert learnt.finetuned_precision == pytest.approx(precision(trained, split.train), abs=1e-4)
    assert learnt.base_precision == pytest.approx(precision(base_servable, split.train), abs=1e-4)
    assert learnt.encoder == "finetune", learnt.reason
    assert f"{learnt.finetuned_precision:.3f} against {learnt.base_precision:.3f}" in learnt.reason


def test_servable_loads_and_encodes_without_quaterion(trained_servable: Path):
    code = (
        "import sys\n"
        "from quaterion_models.model import MetricModel\n"
        f"model = MetricModel.load({str(trained_servable)!r})\n"
        "vectors = model.encode(['how do i start a virtual machine?', 'what is dnssec?'])\n"
        "assert 'quaterion' not in sys.modules, 'serving imported quaterion'\n"
        "assert 'pytorch_lightning' not in sys.modules\n"
        "print(vectors.shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("(2, 384)")


def test_training_moves_head_away_from_identity(trained_servable: Path):
    """The trained head must change embeddings: a servable equal to the base would be no training."""
    import numpy as np

    from app.encoding.servable import Servable

    trained = Servable.load(trained_servable, device="cpu")
    base = Servable.from_base_model(device="cpu")
    texts = ["how are virtual machines billed?"]
    assert not np.allclose(trained.encode(texts), base.encode(texts), atol=1e-4)


# Trains twice (ten seconds): `make test-slow`.
@pytest.mark.slow
def test_retraining_reuses_the_cache_and_replaces_the_servable(tmp_path, caplog):
    # the embedding cache is for the frozen encoder
    cfg = mini_config(tmp_path, trainable_encoder=False)
    train(cfg)
    first = (cfg.output / "head" / "weights.bin").read_bytes()
    with caplog.at_level("INFO"):
        train(replace(cfg, epochs=2, seed=7))
    assert "reusing the embedding cache" in caplog.text
    assert (cfg.output / "head" / "weights.bin").read_bytes() != first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary dirs left behind"


def test_unknown_device_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        train(TrainConfig(data=MINI_FAQ, output=tmp_path / "sv", epochs=1, device="tpu"))


def test_reference_recipe_end_to_end(tmp_path):
    """The frozen-encoder recipe: head only over the embedding cache, answers-only search."""
    from app.domain.records import load_faq
    from app.encoding.servable import Servable
    from app.search.faq_search import FaqSearch
    from app.store.opening import scratch_store
    from app.writes.index_job import index_dataset

    result = train(mini_config(tmp_path, "reference", epochs=3, batch_size=16))
    meta = json.loads((result.servable / SERVABLE_META).read_text())
    assert meta["search"]["mode"] == "answer" and meta["settings"]["trainable_encoder"] is False
    assert not (result.servable / "question_encoder").exists()
    search = FaqSearch(Servable.load(result.servable, device="cpu"), scratch_store(), "faq")
    index_dataset(load_faq(MINI_FAQ), search, progress=False)
    assert search.store.collection_info("faq").vectors == ("answer",)
    hits = search.search("how do i register a domain name?", top_k=3)
    assert "how do i register a domain name?" in [h.question for h in hits]


def test_recipes_and_overrides():
    from app.search.settings import SearchSettings

    cfg = TrainConfig.from_recipe("finetune", epochs=2, fusion="max", lr=None)
    assert cfg.epochs == 2 and cfg.lr == 1e-3 and cfg.trainable_encoder
    assert cfg.search == SearchSettings(
        mode="fused",
        fusion="max",
        question_weight=0.7,
        question_context=True,
        question_encoder="base",
        lexical_weight=0.1,
    )
    assert TrainConfig.from_recipe("finetune", lexical_weight=0.0).search.sparse_vectors == ()
    assert TrainConfig.from_recipe("reference").search.mode == "answer"
    with pytest.raises(ValueError, match="unknown recipe 'fast'"):
        TrainConfig.from_recipe("fast")
    with pytest.raises(ValueError, match="unknown training options: colour"):
        TrainConfig.from_recipe("finetune", colour="red")
    with pytest.raises(ValueError, match="unknown fusion"):
        TrainConfig.from_recipe("finetune", fusion="avg")
    with pytest.raises(ValueError, match="frozen_layers needs a trainable encoder"):
        TrainConfig.from_recipe("reference", frozen_layers=2)


SANITY_QUESTIONS = {
    "what is the pricing of aws lambda functions powered by aws graviton2 processors?": (
        "aws lambda functions powered by aws graviton2 processors are 20% cheaper "
        "compared to x86-based lambda functions"
    ),
    "can i run a cluster or job for a long time?": "yes, you can run a cluster for as long as is required",
}


@pytest.mark.slow
@requires_real_data()
def test_default_training_on_the_real_data_meets_the_targets(tmp_path):
    """The default recipe on the full data set: time, the four views, and the sanity questions."""
    from app.domain.records import load_faq
    from app.encoding.servable import Servable
    from app.search.faq_search import FaqSearch
    from app.store.opening import scratch_store
    from app.writes.index_job import index_dataset
    from tests.conftest import OUT_OF_DOMAIN, PARAPHRASES
    from training.evaluate import EvalConfig, evaluate

    # exactly what `faq train --data FILE` runs: the default recipe
    result = train(
        TrainConfig.from_recipe(
            "finetune", data=REAL_FAQ, output=tmp_path / "sv", cache_dir=tmp_path / "cache"
        )
    )
    # training, the held-out comparison with the base encoder, and the rule (14 min measured
    # with other jobs on the 2 cores; about half of it training)
    assert result.seconds < 900
    assert result.choice is not None and result.choice["encoder"] == "finetune"
    report = evaluate(
        EvalConfig(
            data=REAL_FAQ,
            servable=result.servable,
            paraphrases=PARAPHRASES,
            out_of_domain=OUT_OF_DOMAIN,
            device="cpu",
        )
    )
    # what users get with the rule fitted to the FAQ (measured 0.842 / 0.025 / 0.958, near and
    # far 0.00; the 0.93 confident-right target is not reached: README, "Your own FAQ")
    outcomes = report["servable"]["outcomes"]
    assert outcomes["confident_wrong"] <= 0.05 and outcomes["confident_right"] >= 0.8
    assert outcomes["right_shown"] >= 0.95
    assert outcomes["near_answered"] <= 0.10 and outcomes["far_answered"] <= 0.01
    servable, base = report["servable"], report["base"]
    assert servable["in_batch"]["precision_at_1"] > 0.700 and servable["in_batch"]["mrr"] > 0.777
    for view in ("collection", "full_index", "paraphrase"):
        assert servable[view]["precision_at_1"] > base[view]["precision_at_1"], view
    assert servable["full_index"]["precision_at_1"] >= 0.45
    assert servable["paraphrase"]["precision_at_1"] >= 0.9

    search = FaqSearch(Servable.load(result.servable, device="cpu"), scratch_store(), "faq")
    index_dataset(load_faq(REAL_FAQ), search, progress=False)
    for question, expected in SANITY_QUESTIONS.items():
        assert search.search(question, top_k=1)[0].answer == expected


def test_evaluate_with_paraphrases_asks_like_the_service(trained_servable: Path):
    from training.evaluate import EvalConfig, evaluate

    report = evaluate(
        EvalConfig(data=MINI_FAQ, servable=trained_servable, paraphrases=MINI_PARAPHRASES, device="cpu")
    )
    for name in ("base", "servable"):
        views = report[name]
        assert {"paraphrase", "paraphrase_answers_only"} <= set(views)
        assert set(views["paraphrase"]) == {"precision_at_1", "mrr", "recall_at_5"}
        # six easy paraphrases over 40 entries: most are found in the top 5 whatever the model
        assert views["paraphrase"]["recall_at_5"] >= 0.5


def test_evaluate_rejects_a_bad_paraphrase_file(trained_servable: Path, tmp_path: Path):
    from app.domain.entry import DataError
    from training.evaluate import EvalConfig, evaluate

    bad = tmp_path / "para.jsonl"
    bad.write_text('{"query": "q"}\n')
    with pytest.raises(DataError, match="line 1: missing field 'question'"):
        evaluate(EvalConfig(data=MINI_FAQ, servable=trained_servable, paraphrases=bad, device="cpu"))


def test_search_settings_travel_with_the_servable(tmp_path: Path):
    from app.encoding.servable import Servable
    from app.search.faq_search import FaqSearch
    from app.search.settings import SearchSettings
    from app.store.opening import scratch_store

    result = train(mini_config(tmp_path, fusion="max", question_weight=0.4, question_encoder="servable"))
    loaded = Servable.load(result.servable, device="cpu")
    assert not loaded.has_question_model
    settings = FaqSearch(loaded, scratch_store(), "faq").settings
    assert settings == SearchSettings(
        mode="fused",
        fusion="max",
        question_weight=0.4,
        question_context=True,
        question_encoder="servable",
        lexical_weight=0.1,
    )
    assert loaded.meta.decision["entries"] == 40  # the rule, fitted with these settings


def test_default_servable_carries_a_base_question_encoder(trained_servable: Path):
    import numpy as np

    from app.encoding.servable import QUESTION_MODEL_DIR, Servable

    assert (trained_servable / QUESTION_MODEL_DIR / "config.json").is_file()
    servable = Servable.load(trained_servable, device="cpu")
    assert servable.meta.search["question_encoder"] == "base"
    assert servable.has_question_model
    base = Servable.from_base_model(device="cpu")
    texts = ["aws fsx lustre: what is the daily backup retention period?"]
    assert np.allclose(servable.encode_question_side(texts), base.encode(texts), atol=1e-5)
    assert not np.allclose(servable.encode(texts), base.encode(texts), atol=1e-4)
