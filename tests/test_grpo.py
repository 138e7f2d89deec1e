"""The reward model as a TRL reward function: calling convention, formats, and real GRPO/RLOO runs."""

import math

import pytest
import torch

from helpers import tiny_policy
from nbhelpers import grpo
from nbhelpers.modeling import load_for_training
from nbhelpers.scoring import RewardScorer

PROMPT = "What is 15 + 27?"
TEXTS = ["<think>\nTens: 10 + 20 = 30.\nOnes: 5 + 7 = 12.\n</think>\n\nThe answer is 42.",
         "The answer is 32.",
         "Ones first.\n</think>\n\nThe answer is 42.",
         "<think>\nstill thinking"]


def trl_kwargs(texts, tokenizer):
    """Everything GRPOTrainer._calculate_rewards passes besides prompts/completions, plus a dataset column."""
    logged = {}
    return dict(completion_ids=[tokenizer(t)["input_ids"] for t in texts], trainer_state=None,
                log_extra=lambda column, values: logged.setdefault(column, values),
                log_metric=lambda name, value: logged.setdefault(name, value),
                id=[f"row{i}" for i in range(len(texts))])


@pytest.fixture(scope="module")
def scorer(tiny_profile):
    torch.manual_seed(0)
    model, tokenizer = load_for_training(tiny_profile, [], device="cpu")
    return RewardScorer(model.eval(), tokenizer)


@pytest.fixture(scope="module")
def reward_fn(scorer):
    return grpo.make_reward_fn(scorer)


def test_reward_fn_takes_trl_keywords_and_returns_one_finite_float_each(reward_fn, scorer):
    rewards = reward_fn(prompts=[PROMPT] * len(TEXTS), completions=TEXTS, **trl_kwargs(TEXTS, scorer.tokenizer))
    assert len(rewards) == len(TEXTS)
    assert all(isinstance(r, float) and math.isfinite(r) for r in rewards)
    expected = scorer.score_batch([PROMPT] * len(TEXTS), TEXTS)
    assert rewards == pytest.approx(expected, abs=1e-6)
    assert len(set(round(r, 6) for r in rewards)) > 1  # a constant function would pass the checks above


def test_plain_and_conversational_give_the_same_reward(reward_fn, scorer):
    kwargs = trl_kwargs(TEXTS, scorer.tokenizer)
    plain = reward_fn(prompts=[PROMPT] * len(TEXTS), completions=TEXTS, **kwargs)
    chat = reward_fn(prompts=[[{"role": "user", "content": PROMPT}]] * len(TEXTS),
                     completions=[[{"role": "assistant", "content": t}] for t in TEXTS], **kwargs)
    assert chat == pytest.approx(plain, abs=1e-6)
    # and the prompt matters: the reward is of (prompt, completion), not of the completion alone
    other = reward_fn(prompts=["Write a poem about tea."] * len(TEXTS), completions=TEXTS, **kwargs)
    assert other != pytest.approx(plain, abs=1e-6)


def test_seed_style_reward_fn_raises_under_trls_call(scorer):
    def seed_reward_fn(completions, prompts):
        return scorer.score_batch(prompts, completions)

    with pytest.raises(TypeError, match="completion_ids"):
        seed_reward_fn(prompts=[PROMPT] * len(TEXTS), completions=TEXTS, **trl_kwargs(TEXTS, scorer.tokenizer))


def test_reward_fn_rejects_a_single_string_and_mismatched_prompts(reward_fn):
    with pytest.raises(TypeError):
        reward_fn(completions=TEXTS[0], prompts=[PROMPT])
    with pytest.raises(ValueError):
        reward_fn(completions=TEXTS, prompts=[PROMPT])


def test_normalize_and_clip_are_the_scorers(scorer):
    norm = scorer.fit_normalizer([PROMPT] * len(TEXTS), TEXTS)
    assert scorer.normalizer is None                      # fitting changes nothing by itself
    clipped = grpo.make_reward_fn(scorer.replace(normalizer=norm, clip=0.5))(completions=TEXTS, prompts=[PROMPT] * 4)
    assert all(-0.5 <= r <= 0.5 for r in clipped) and max(map(abs, clipped)) == pytest.approx(0.5)
    normalized = grpo.make_reward_fn(scorer.replace(normalizer=norm))(completions=TEXTS, prompts=[PROMPT] * 4)
    assert sum(normalized) / 4 == pytest.approx(0.0, abs=1e-4)
    assert normalized == pytest.approx(scorer.replace(normalizer=norm).score_batch([PROMPT] * 4, TEXTS))


def test_think_format_reward():
    completions = ["<think>\nwork\n</think>\n\nThe answer is 4.",     # closed
                   "work without an opening tag\n</think>\n\n4",      # closed, template opened it
                   "<think>\nwork that never ends",                   # unclosed
                   "The answer is 4.",                                # no thinking
                   "<think>\n</think>\n\n4"]                          # empty thinking
    assert grpo.think_format_reward(completions=completions) == [1.0, 1.0, 0.0, 0.0, 0.0]
    chat = [[{"role": "assistant", "content": c}] for c in completions]
    assert grpo.think_format_reward(completions=chat, prompts=None, completion_ids=None) == [1.0, 1.0, 0.0, 0.0, 0.0]


def _run(runner, reward_fn, tmp_path):
    model, tokenizer = tiny_policy()
    # saved and reloaded like a real policy: RLOO (beta > 0) rebuilds a reference model from its folder
    model.save_pretrained(tmp_path / "policy")
    tokenizer.save_pretrained(tmp_path / "policy")
    model, tokenizer = grpo.load_policy(tmp_path / "policy", device="cpu")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    dataset = grpo.prompt_dataset([f"What is {a} + {a + 3}?" for a in range(10, 18)], id=list(range(8)))
    trainer = runner(model, tokenizer, [reward_fn, grpo.think_format_reward], dataset, output_dir=tmp_path / "run",
                     max_steps=2, num_generations=4, max_completion_length=8, prompts_per_step=1,
                     learning_rate=1e-2)
    assert trainer.state.global_step == 2
    rows = grpo.reward_table(trainer)
    assert len(rows) == 2
    for row in rows:
        assert math.isfinite(row["reward"])
        assert "rewards/reward_model/mean" in row and "rewards/think_format_reward/mean" in row
        assert math.isfinite(row["rewards/reward_model/mean"])
    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(p.detach().cpu(), before[n])]
    assert changed, "the policy did not change"
    return trainer


def test_grpo_trainer_runs_two_steps_and_logs_rewards(reward_fn, tmp_path):
    _run(grpo.run_grpo, reward_fn, tmp_path)


def test_rloo_trainer_runs_two_steps_with_the_same_reward_fn(reward_fn, tmp_path):
    _run(grpo.run_rloo, reward_fn, tmp_path)


def test_kl_reference_is_the_policy_as_the_run_starts(tmp_path):
    # a policy changed after loading (here: its norms scaled, as a fine-tuning or restrict_to_trained_vocab would):
    # TRL's own reference, reloaded from the folder, would differ from it before the first update (KL > 0)
    model, tokenizer = tiny_policy()
    model.save_pretrained(tmp_path / "policy")
    tokenizer.save_pretrained(tmp_path / "policy")
    model, tokenizer = grpo.load_policy(tmp_path / "policy", device="cpu")
    with torch.no_grad():
        model.model.norm.weight.mul_(3.0)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    dataset = grpo.prompt_dataset([f"What is {a} + {a + 3}?" for a in range(10, 14)])
    trainer = grpo.run_grpo(model, tokenizer, [grpo.think_format_reward], dataset, output_dir=tmp_path / "run",
                            max_steps=2, num_generations=4, max_completion_length=8, prompts_per_step=1,
                            learning_rate=1e-2, beta=0.5)
    kl = [e["kl"] for e in trainer.state.log_history if "kl" in e]
    assert kl[0] == pytest.approx(0.0, abs=1e-6)          # the first step measures the start against itself
    reference = dict(trainer.ref_model.named_parameters())
    assert all(torch.equal(reference[n].detach(), p) for n, p in start.items())
    assert not any(p.requires_grad for p in reference.values())


def test_reward_table_and_plot(tmp_path):
    history = [{"step": 1, "loss": 0.1}, {"step": 1, "reward": 0.5, "reward_std": 0.2, "rewards/a/mean": 0.5,
                                           "rewards/a/std": 0.2, "kl": 0.0}]
    rows = grpo.reward_table(history)
    assert rows == [{"step": 1, "reward": 0.5, "reward_std": 0.2, "rewards/a/mean": 0.5, "rewards/a/std": 0.2}]
    grpo.plot_rewards(rows, save=tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0


def test_policy_source_needs_an_adapter(tmp_path):
    with pytest.raises(ValueError, match="adapter"):
        grpo.policy_source(tmp_path)


def test_one_definition_of_the_reward(scorer):
    """Every variant is the same model with other settings; the head-only reward is the head."""
    head = scorer.head_only()
    assert head.model is scorer.model and head.verifier is None
    assert head.score_batch([PROMPT] * 4, TEXTS) == scorer.head_batch([PROMPT] * 4, TEXTS)
    answer = scorer.replace(part="answer")
    assert answer.score(PROMPT, TEXTS[0]) == pytest.approx(scorer.score(PROMPT, TEXTS[0].split("</think>")[-1].strip()))
    assert scorer.part == "both"                          # the original is unchanged
    with pytest.raises(TypeError, match="replace"):
        scorer.replace(temperature=2)


@pytest.mark.slow
def test_trls_own_model_path_reads_the_head_alone(tiny_profile, tmp_path):
    """GRPOTrainer(reward_funcs=FOLDER) loads the kit's folder and, for conversational prompts, computes exactly the
    kit's head-only reward; it has no verifier term, and for plain-text prompts no chat template."""
    from nbhelpers.modeling import save_reward_model

    torch.manual_seed(0)
    model, tokenizer = load_for_training(tiny_profile, [], device="cpu")
    folder = tmp_path / "rm"
    save_reward_model(model, tokenizer, tiny_profile, folder,
                      meta={"verifier": {"head_weight": 1.0, "thinking_weight": 2.0, "answer_weight": 3.0}})
    got = grpo.trl_model_path_rewards(folder, [PROMPT] * 3, TEXTS[:3], tmp_path / "grpo")
    chat, plain = got["conversational"], got["plain"]
    assert chat["trl model path"] == pytest.approx(chat["kit head only"], abs=1e-4)
    assert chat["kit reward"] != pytest.approx(chat["kit head only"], abs=1e-3)      # the verifier term
    assert plain["kit head only"] == pytest.approx(chat["kit head only"], abs=1e-5)  # the kit templates plain prompts
    assert plain["trl model path"] != pytest.approx(chat["trl model path"], abs=1e-3)  # TRL concatenates them raw
