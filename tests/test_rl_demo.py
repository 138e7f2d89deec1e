"""Gold checks of a GRPO run: final answers, the gold reward, a vocabulary-restricted policy, tracked rows."""
import math
import re
from copy import deepcopy

import pytest
import torch

from nbhelpers import grpo, rl_demo
from nbhelpers.generate.datagen import make_problems, split_of
from nbhelpers.thinking import final_answer
from nbhelpers.warmup import VOCAB_ATTR
from helpers import make_pairs, tiny_policy


def test_final_answer_and_gold_reward():
    texts = ["<think>\n40 + 2 = 42.\n</think>\n\nThe answer is 42.",   # right
             "<think>\n40 + 2 = 42.\n</think>\n\nThe answer is 32.",   # contradicts its thinking
             "<think>\n40 + 2 = 42.",                                  # never closes: no answer
             "The answer is 42.",                                      # no thinking, still answers
             "<think>\nsteps\n</think>\n\nno number"]
    assert [final_answer(t) for t in texts] == [42, 32, None, 42, None]
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    assert rl_demo.gold_reward(completions=chat, answer=[42] * 5, prompts=None) == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert rl_demo.gold_accuracy(texts, [42, 42, 42, 42, 42]) == pytest.approx(0.4)


def test_make_problems_are_distinct_gold_and_from_one_side_of_the_partition():
    problems = make_problems(40, seed=3, partition="test")
    assert len({p["prompt"] for p in problems}) == 40 and problems == make_problems(40, seed=3, partition="test")
    for p in problems:
        a, b = map(int, re.findall(r"\d+", p["prompt"]))
        op = "+" if p["answer"] == a + b else "-"
        assert p["answer"] == (a + b if op == "+" else a - b) and split_of(a, op, b) == "test"


def test_trained_vocab_policy_keeps_the_distribution_over_its_tokens():
    model, tokenizer = tiny_policy()
    text = "<|im_start|>user\nWhat is 47 + 38?<|im_end|>\n<|im_start|>assistant\n<think>\n7 + 8 = 15\n</think>"
    ids = tokenizer(text)["input_ids"]
    setattr(model.config, VOCAB_ATTR, sorted(set(ids[::2])))
    with torch.no_grad():
        full = model(torch.tensor([ids])).logits[0]
    small_model, small = grpo.restrict_to_trained_vocab(model, tokenizer)
    keep = sorted(set(ids[::2]) | {tokenizer.pad_token_id, tokenizer.eos_token_id})
    new_ids = small(text)["input_ids"]
    assert new_ids == [keep.index(i) if i in keep else new_ids[k] for k, i in enumerate(ids)]
    assert small.decode(new_ids) == text and small.eos_token_id == keep.index(tokenizer.eos_token_id)
    assert small_model.generation_config.eos_token_id == small.eos_token_id
    with torch.no_grad():
        restricted = small_model(torch.tensor([new_ids])).logits[0]
    assert restricted.shape[-1] == len(keep)
    assert torch.allclose(restricted, full[:, keep], atol=1e-5)


def test_run_tracked_records_every_step_and_the_checks(tmp_path):
    model, tokenizer = tiny_policy()
    problems = [{"prompt": f"What is {a} + 3?", "answer": a + 3} for a in range(10, 18)]
    rows = rl_demo.run_tracked(model, tokenizer, [rl_demo.gold_reward], problems, problems[:3], tmp_path,
                               max_steps=2, eval_every=2, max_new_tokens=6, num_generations=2, prompts_per_step=1)
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[0]["reward"] is None and all(r["reward"] is not None for r in rows[1:])
    assert [r["gold_accuracy"] is not None for r in rows] == [True, False, True]
    assert [r["held_out_reward"] for r in rows] == [r["gold_accuracy"] for r in rows]   # the gold reward, held out
    assert [r["thinks_first"] is not None for r in rows] == [True, False, True]
    assert all(0 < r["completion_length"] <= 6 for r in rows[1:])
    rl_demo.plot_runs({"a": rows, "b": rows}, save=tmp_path / "runs.png")
    assert (tmp_path / "runs.png").stat().st_size > 0


def test_run_tracked_rows_carry_trls_reward_columns_and_summarize_them(tmp_path):
    model, tokenizer = tiny_policy()
    problems = [{"prompt": f"What is {a} + 3?", "answer": a + 3} for a in range(10, 18)]
    rows = rl_demo.run_tracked(model, tokenizer, [rl_demo.gold_reward], problems, problems[:3], tmp_path,
                               max_steps=2, eval_every=1, max_new_tokens=4, num_generations=2, prompts_per_step=1)
    table = grpo.reward_table(rows)
    assert [r["step"] for r in table] == [1, 2] and all("rewards/gold_reward/mean" in r for r in table)
    rows = [{"step": 0, "reward": None, "completion_length": None, "gold_accuracy": 0.25},
            {"step": 1, "reward": 1.0, "completion_length": 10.0, "gold_accuracy": None},
            {"step": 2, "reward": 3.0, "completion_length": 30.0, "gold_accuracy": 0.75},
            {"step": 3, "reward": 5.0, "completion_length": 50.0, "gold_accuracy": 0.5}]
    rows[0]["held_out_reward"], rows[3]["held_out_reward"] = -1.0, 2.0
    assert rl_demo.summarize(rows, first=2) == {
        "gold_start": 0.25, "gold_end": 0.5, "gold_best": 0.75, "held_out_reward_start": -1.0,
        "held_out_reward_end": 2.0, "reward_start": 2.0, "reward_end": 4.0, "length_start": 20.0, "length_end": 40.0}


def test_restricted_policy_trains_with_a_language_model_loss_and_learns_to_skip_thinking(tmp_path):
    model, tokenizer = tiny_policy()
    setattr(model.config, VOCAB_ATTR, sorted(set(tokenizer("What is 0123456789 + ? The answer is .")["input_ids"])))
    model, small = grpo.restrict_to_trained_vocab(model, tokenizer)
    assert model.config.vocab_size == model.get_output_embeddings().weight.shape[0]
    pairs = make_pairs(16)
    before = model.get_output_embeddings().weight.detach().clone()
    loss = rl_demo.train_to_skip_thinking(model, small, pairs, tmp_path, max_steps=2, learning_rate=1e-2)
    assert math.isfinite(loss) and not torch.equal(before, model.get_output_embeddings().weight)
    copy = deepcopy(model)   # a copy computes with its own weights (TRL's forward patch would tie it to `model`)
    with torch.no_grad():
        copy.get_output_embeddings().weight.mul_(-1.0)
        ids = torch.tensor([small("What is 12 + 3?")["input_ids"]])
        assert not torch.allclose(copy(ids).logits, model(ids).logits)
    with pytest.raises(ValueError, match="no_thinking"):
        rl_demo.train_to_skip_thinking(model, small, [{**p, "category": "shallow_thinking"} for p in pairs], tmp_path)


def test_flawed_reward_model_leaves_out_a_category_and_has_no_verifier(tiny_profile):
    pairs = make_pairs(16)
    with pytest.raises(ValueError, match="longer_but_worse"):
        rl_demo.train_flawed_reward_model(pairs, max_steps=1, profile=tiny_profile)
    mixed = [p if i % 2 else type(p)({**p, "category": "longer_but_worse"}, line=p.line) for i, p in enumerate(pairs)]
    flawed = rl_demo.train_flawed_reward_model(mixed, max_steps=1, profile=tiny_profile)
    assert flawed.verifier is None and flawed.meta["n_train"] == 8
    assert len(flawed.score_batch(["What is 1 + 2?"], ["The answer is 3."])) == 1


def test_evaluate_counts_right_answers_and_completions_that_think_first(monkeypatch):
    from nbhelpers.tokenizer import qwen3_tokenizer

    texts = ["<think>\n1 + 2 = 3.\n</think>\n\nThe answer is 3.", "<think>\n\n</think>\n\nThe answer is 3.",
             "<think>\n1 + 2 = 4.\n</think>\n\n4", "<think>\n1 + 2 ="]   # an empty thinking block is no thinking
    monkeypatch.setattr(rl_demo, "complete", lambda model, tokenizer, prompts, max_new_tokens: [[t] for t in texts])
    result = rl_demo.evaluate(None, qwen3_tokenizer(), [{"prompt": "What is 1 + 2?", "answer": 3}] * 4)
    assert result["gold_accuracy"] == 0.5 and result["thinks_first"] == 2 and result["completions"] == texts


@pytest.mark.parametrize("notebook", ["04_grpo_integration", "05_reward_hacking"])
def test_notebooks_spell_out_the_demo_settings_the_benchmarks_use(notebook):
    import ast
    import json
    from pathlib import Path

    cells = json.loads((Path(__file__).parents[1] / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "SETTINGS = dict(" in "".join(c["source"]))
    call = next(node.value for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SETTINGS")
    spelled = {k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)}
    assert {k: spelled.get(k) for k in rl_demo.DEMO_SETTINGS} == rl_demo.DEMO_SETTINGS
