import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nbhelpers.evaluation import evaluate_pairs
from nbhelpers.formatting import encode
from nbhelpers.modeling import count_parameters, load_for_training, load_reward_model
from nbhelpers.profiles import get_profile
from nbhelpers.scoring import RewardScorer
from nbhelpers.training import reward_config, tokenize_pairs, train_reward_model

from helpers import make_pairs

PROGRAMS = Path(__file__).resolve().parent / "programs"


def test_model_has_pad_token_lora_and_trainable_score_head(tiny_profile):
    model, tok = load_for_training(tiny_profile, [])
    assert model.config.pad_token_id == tok.pad_token_id == 151643
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable)
    assert any("score" in n for n in trainable), "the score head must be trained (modules_to_save)"
    counts = count_parameters(model)
    assert 0 < counts["trainable"] < counts["total"]


@pytest.mark.slow
def test_training_changes_parameters_and_raises_accuracy(tiny_profile, tmp_path):
    train, test = make_pairs(64, seed=1), make_pairs(32, seed=2)
    model, tok = load_for_training(tiny_profile, train)
    before = {n: (p.detach().clone(), p.requires_grad) for n, p in model.named_parameters()}
    acc_before = evaluate_pairs(RewardScorer(model, tok), test)["accuracy"]
    result = train_reward_model(train, test, profile=replace(tiny_profile, epochs=3), model=model, tokenizer=tok,
                                checkpoint_dir=tmp_path / "ckpt")
    # TRL's own training check: every trainable parameter changed, every frozen one did not
    after = dict(result.model.named_parameters())
    trainable = [n for n, (_, grad) in before.items() if grad]
    assert any("score" in n for n in trainable) and any("lora" in n for n in trainable)
    assert [n for n in trainable if torch.equal(after[n], before[n][0])] == []
    assert [n for n, (p, grad) in before.items() if not grad and not torch.equal(after[n], p)] == []
    acc_after = evaluate_pairs(RewardScorer(result.model, result.tokenizer), test)["accuracy"]
    assert acc_after >= 0.9 and acc_after > acc_before
    assert any("eval_accuracy" in h for h in result.history) and any("loss" in h for h in result.history)


def _schedule(args, max_steps):
    """The steps at which the Trainer evaluates and saves with these arguments (its own DefaultFlowCallback)."""
    from transformers.trainer_callback import DefaultFlowCallback, TrainerControl, TrainerState

    state = TrainerState(max_steps=max_steps)
    state.compute_steps(args, max_steps)
    evals, saves = [], []
    for step in range(1, max_steps + 1):
        state.global_step = step
        control = DefaultFlowCallback().on_step_end(args, state, TrainerControl())
        evals += [step] * control.should_evaluate
        saves += [step] * control.should_save
    return evals, saves


@pytest.mark.parametrize("epochs", [0.5, 3])
def test_evaluations_and_checkpoints_are_spread_over_the_run(tmp_path, epochs):
    """Twice an epoch (once for half an epoch), the last at the last step, none a step after another."""
    profile = get_profile("tiny", epochs=epochs)
    steps = math.ceil(epochs * math.ceil(2500 / profile.batch_size))   # as the Trainer counts them
    evals, saves = _schedule(reward_config(profile, "cpu", 2500, tmp_path, evaluate=True), steps)
    for done, per_epoch in ((evals, 2), (saves, 4)):
        assert len(done) == max(1, round(epochs * per_epoch)) and done[-1] == steps
        gaps = [b - a for a, b in zip([0, *done], done)]
        assert min(gaps) >= max(gaps) / 2, done


def test_training_and_scoring_see_identical_token_ids(tiny_profile, pairs):
    from trl import RewardConfig, RewardTrainer

    model, tok = load_for_training(tiny_profile, [])
    scorer = RewardScorer(model, tok)
    ds = tokenize_pairs(pairs, tok, max_length=128)
    trainer = RewardTrainer(model=model, args=RewardConfig(output_dir="/tmp/unused", report_to="none", max_length=128,
                                                           use_cpu=True), train_dataset=ds, processing_class=tok)
    row = trainer.train_dataset[0]
    assert row["chosen_ids"] == scorer.encode(pairs[0]["prompt"], pairs[0]["chosen"])
    assert row["rejected_ids"] == encode(tok, pairs[0]["prompt"], pairs[0]["rejected"])


def test_too_long_pairs_are_reported_not_dropped(tiny_profile, pairs):
    from nbhelpers.data import DataError, Pair

    _, tok = load_for_training(tiny_profile, [])
    long = Pair(dict(pairs[0], chosen="<think>\n" + "step " * 300 + "\n</think>\n\nok", id="long-one"), line=7)
    with pytest.raises(DataError) as err:
        tokenize_pairs([long, *pairs[1:]], tok, max_length=128)
    assert "<pairs>:7: length: pair 'long-one'" in str(err.value)
    ds = tokenize_pairs([long, *pairs[1:]], tok, max_length=128, truncate=True)
    assert len(ds) == len(pairs) and len(ds[0]["chosen_ids"]) == 128


def test_batch_equals_one_at_a_time(tiny_profile):
    model, tok = load_for_training(tiny_profile, [])
    scorer = RewardScorer(model.eval(), tok, token_budget=300, max_batch=4)
    pairs = make_pairs(12)
    prompts = [p["prompt"] for p in pairs] * 2
    responses = [p["chosen"] for p in pairs] + [p["rejected"] + " extra words" * (i % 5) for i, p in enumerate(pairs)]
    batch = scorer.score_batch(prompts, responses)
    single = [scorer.score(p, r) for p, r in zip(prompts, responses)]
    assert max(abs(a - b) for a, b in zip(batch, single)) <= 1e-5
    assert len(set(round(x, 6) for x in batch)) > 1


@pytest.mark.slow
def test_save_reload_in_fresh_process_gives_identical_rewards(tiny_profile, tmp_path):
    train = make_pairs(16)
    result = train_reward_model(train, profile=tiny_profile, out=tmp_path / "rm", max_steps=2,
                                checkpoint_dir=tmp_path / "ckpt")
    scorer = RewardScorer(result.model.eval(), result.tokenizer, result.meta)
    assert scorer.verifier, "the tiny profile saves verifier weights; the reload must use them too"
    here = scorer.score_batch([p["prompt"] for p in train], [p["chosen"] for p in train])
    (tmp_path / "in.json").write_text(json.dumps({"p": [p["prompt"] for p in train], "r": [p["chosen"] for p in train]}))
    out = subprocess.run([sys.executable, str(PROGRAMS / "score_folder.py"), str(tmp_path / "rm"),
                          str(tmp_path / "in.json")], capture_output=True, text=True, check=True)
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert max(abs(a - b) for a, b in zip(here, there)) <= 1e-6
    assert (tmp_path / "rm" / "adapter_config.json").exists() and (tmp_path / "rm" / "nbhelpers.json").exists()
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.slow
def test_saved_folder_loads_with_auto_peft_class(tiny_profile, tmp_path):
    from peft import AutoPeftModelForSequenceClassification

    train_reward_model(make_pairs(8), profile=tiny_profile, out=tmp_path / "rm", max_steps=1,
                       checkpoint_dir=tmp_path / "ckpt")
    model = AutoPeftModelForSequenceClassification.from_pretrained(tmp_path / "rm", num_labels=1)
    assert model.config.num_labels == 1


def test_existing_model_folder_not_overwritten(tiny_profile, tmp_path):
    (tmp_path / "rm").mkdir()
    (tmp_path / "rm" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        train_reward_model(make_pairs(8), profile=tiny_profile, out=tmp_path / "rm", max_steps=1)
    assert (tmp_path / "rm" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_four_bit_nf4_lora_path_trains_on_cpu(tiny_profile, tmp_path):
    model, tok = load_for_training(tiny_profile, [], quantize_4bit=True, device="cpu")
    assert any(p.__class__.__name__ == "Params4bit" for p in model.parameters())
    head = [p for n, p in model.named_parameters() if "score" in n and p.requires_grad][0].detach().clone()
    result = train_reward_model(make_pairs(16), profile=tiny_profile, max_steps=2, model=model, tokenizer=tok,
                                out=tmp_path / "rm4", checkpoint_dir=tmp_path / "ckpt")
    after = [p for n, p in result.model.named_parameters() if "score" in n and p.requires_grad][0]
    assert not torch.equal(head, after)
    reloaded, _, meta = load_reward_model(tmp_path / "rm4", device="cpu")
    assert meta["quantize_4bit"] is True


@pytest.mark.slow
def test_normalizer_fit_save_and_reload(tiny_profile, tmp_path):
    train = make_pairs(16)
    train_reward_model(train, profile=tiny_profile, out=tmp_path / "rm", max_steps=1,
                                checkpoint_dir=tmp_path / "ckpt")
    scorer = RewardScorer.from_folder(tmp_path / "rm")
    prompts, responses = [p["prompt"] for p in train], [p["chosen"] for p in train]
    raw = scorer.score_batch(prompts, responses)
    norm = scorer.fit_normalizer(prompts, responses)
    assert scorer.score_batch(prompts, responses) == raw            # fitting alone changes nothing
    scorer.save_normalizer(norm)
    normalized = scorer.score_batch(prompts, responses)
    assert abs(sum(normalized) / len(normalized)) < 1e-4
    again = RewardScorer.from_folder(tmp_path / "rm")
    assert again.normalizer == norm
    assert again.score(prompts[0], responses[0]) == pytest.approx(normalized[0], abs=1e-5)
    clipped = RewardScorer.from_folder(tmp_path / "rm", clip=0.5).score_batch(prompts, responses)
    assert max(abs(x) for x in clipped) <= 0.5


@pytest.mark.slow
def test_training_is_deterministic_across_processes(tmp_path):
    """Two fresh processes training the same pairs with the same seed give identical rewards."""
    runs = [subprocess.run([sys.executable, str(PROGRAMS / "train_and_score.py"), str(tmp_path / f"ckpt{i}")],
                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1] for i in range(2)]
    assert runs[0] == runs[1]
