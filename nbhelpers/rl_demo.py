"""Does a GRPO run make the policy better, or only its reward higher?

A reward model is a proxy. What it stands in for here is checkable: the final number of a completion
either is the true answer or is not. `run_tracked` runs GRPO (`grpo.run_grpo`) and records per step the
mean reward of the sampled completions (the proxy), their mean length, and, every `eval_every` steps, the
**gold accuracy** of the policy's greedy answers on held-out problems (`datagen.make_problems`). A reward
that rises while gold accuracy stalls or falls is reward hacking; `plot_runs` shows runs side by side.
`gold_reward` is the check itself as a TRL reward function: the upper bound of what the policy can learn
in a given number of steps. `train_to_skip_thinking` gives a policy a habit a reward model can see (notebook 04:
GRPO teaches it back); `train_flawed_reward_model` makes a reward model with a known flaw (notebook 05: hacked).
"""
from __future__ import annotations

from statistics import fmean, pstdev

from .formatting import as_text
from .grpo import complete, prompt_dataset, run_grpo
from .thinking import final_answer, has_closed_thinking


def gold_reward(completions, answer, **kwargs) -> list[float]:
    """TRL reward function: 1.0 if a completion's final answer is the dataset's `answer` column, else 0.0."""
    return [1.0 if final_answer(as_text(c)) == int(a) else 0.0 for c, a in zip(completions, answer)]


def gold_accuracy(completions, answers) -> float:
    """Share of completions whose final answer is the gold answer."""
    return sum(final_answer(c) == int(a) for c, a in zip(completions, answers)) / len(answers)


# The GRPO settings of notebooks 04 and 05 (they spell them out for the learner) and of the benchmark scripts
DEMO_SETTINGS = dict(learning_rate=3e-4, num_generations=8, prompts_per_step=4, top_k=20)

CHECKED = ("gold_accuracy", "thinks_first", "held_out_length", "held_out_reward", "held_out_reward_std")   # per check


def evaluate(model, tokenizer, problems, max_new_tokens: int = 128, reward_funcs=()) -> dict:
    """Gold accuracy, mean length (tokens) and the number that think first (a non-empty thinking block, closed) of the
    greedy completions of `problems` ({"prompt", "answer"}); with `reward_funcs` (TRL reward functions, summed as
    TRL sums them) also each completion's reward, their mean and spread: the proxy, on the same fixed prompts."""
    prompts, answers = [p["prompt"] for p in problems], [p["answer"] for p in problems]
    texts = [c[0] for c in complete(model, tokenizer, prompts, max_new_tokens)]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    result = {"gold_accuracy": gold_accuracy(texts, answers), "held_out_length": sum(lengths) / len(lengths),
              "thinks_first": sum(map(has_closed_thinking, texts)), "completions": texts}
    if reward_funcs:
        rewards = [sum(r) for r in zip(*(f(completions=texts, prompts=prompts, answer=answers) for f in reward_funcs))]
        result.update(held_out_reward=fmean(rewards), held_out_reward_std=pstdev(rewards))
    return result


def train_to_skip_thinking(policy, tokenizer, pairs, output_dir, max_steps: int = 20, learning_rate: float = 1e-4,
                           seed: int = 0) -> float:
    """Give the policy a habit a reward model can see: a few steps of supervised fine-tuning (TRL's SFTTrainer,
    loss on the answer only) on the bare answers of the `no_thinking` pairs, their rejected side ("The answer
    is 81.", no thinking). The tiny policy then mostly answers at once, and mostly wrong: it needs its
    thinking to add. Trains `policy` in place; returns the last logged training loss."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .device import trainer_precision
    from .setup import one_bar

    bare = [p for p in pairs if p.get("category") == "no_thinking"]
    if not bare:
        raise ValueError("no pair has category 'no_thinking'; pass the kit's training pairs (data/thinking_prefs/train.jsonl).")
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": p["prompt"]}],
                                  "completion": [{"role": "assistant", "content": p["rejected"]}]} for p in bare])
    args = SFTConfig(output_dir=str(output_dir), report_to="none", seed=seed, data_seed=seed, max_steps=max_steps,
                     learning_rate=learning_rate, lr_scheduler_type="constant", per_device_train_batch_size=16,
                     logging_steps=max(1, max_steps // 4), save_strategy="no", gradient_checkpointing=False,
                     dataloader_num_workers=0, disable_tqdm=False, **trainer_precision(policy.device.type))
    trainer = SFTTrainer(model=policy, args=args, train_dataset=dataset, processing_class=tokenizer)
    one_bar(trainer)
    trainer.train()
    # SFTTrainer patches the model's forward (a fused LM head that calls the forward it replaced); drop the patch,
    # or a copy of this policy (copy.deepcopy) would still run the original's forward, with the original's weights
    vars(policy).pop("forward", None)
    return [e["loss"] for e in trainer.state.log_history if "loss" in e][-1]


def train_flawed_reward_model(pairs, leave_out: str = "longer_but_worse", max_steps: int = -1, profile=None,
                              seed: int = 0):
    """A reward model with a known flaw, as a `RewardScorer`: the profile's head alone (no verifier) trained on
    the pairs without the `leave_out` category, for the profile's own schedule (or `max_steps`). Without
    `longer_but_worse` every remaining category (no thinking, shallow thinking, ...) prefers the longer answer:
    it learns "longer is better"."""
    from .profiles import get_profile
    from .troubleshooting import train_head

    kept = [p for p in pairs if p.get("category") != leave_out]
    if len(kept) == len(pairs):
        raise ValueError(f"no pair has category {leave_out!r}: nothing would be left out.")
    return train_head(kept, get_profile(profile), max_steps, seed)


def _held_out_check(tokenizer, problems, every, max_new_tokens, reward_funcs, results):
    from transformers import TrainerCallback

    class HeldOutCheck(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                results[state.global_step] = evaluate(model, tokenizer, problems, max_new_tokens, reward_funcs)
    return HeldOutCheck()


def run_tracked(model, tokenizer, reward_funcs, train_problems, held_out, output_dir, max_steps: int = 20,
                eval_every: int = 5, max_new_tokens: int = 128, **grpo_settings) -> list[dict]:
    """GRPO on `train_problems` (their `answer` column reaches reward functions such as `gold_reward`) with a
    gold check on `held_out` before the run and every `eval_every` steps. Returns one row per step (step 0:
    before training): `step`, `reward` (mean over the step's sampled completions), `completion_length`
    (their mean, tokens); at the checks (None between them) `gold_accuracy`, `thinks_first`, `held_out_length` and
    `held_out_reward` / `held_out_reward_std` (the reward functions on the greedy held-out completions: the proxy
    on fixed prompts); and everything else TRL logged for the step (`reward_std`, `rewards/NAME/mean`, ...:
    `grpo.reward_table` reads them). `grpo_settings` go to `grpo.run_grpo` (learning_rate, num_generations, ...)."""
    checks = {0: evaluate(model, tokenizer, held_out, max_new_tokens, reward_funcs)}
    dataset = prompt_dataset([p["prompt"] for p in train_problems], answer=[p["answer"] for p in train_problems])
    check = _held_out_check(tokenizer, held_out, eval_every, max_new_tokens, reward_funcs, checks)
    grpo_settings.setdefault("max_completion_length", max_new_tokens)
    trainer = run_grpo(model, tokenizer, reward_funcs, dataset, output_dir, max_steps=max_steps,
                       callbacks=[check], **grpo_settings)
    logged = {e["step"]: e for e in trainer.state.log_history if "reward" in e}
    rows = []
    for step in range(max_steps + 1):
        entry, held = logged.get(step, {}), checks.get(step, {})
        rows.append({**entry, "step": step, "reward": entry.get("reward"),
                     "completion_length": entry.get("completions/mean_length"),
                     **{key: held.get(key) for key in CHECKED}})
    return rows


def summarize(rows, first: int = 4) -> dict:
    """A run of `run_tracked` in a few numbers: at the first and last check, gold accuracy and the reward on the
    held-out completions (`held_out_reward`, None without reward functions); the best gold accuracy; the mean
    reward and sample length of the `first` and the last `first` training steps."""
    checked = [r for r in rows if r["gold_accuracy"] is not None]
    trained = [r for r in rows if r["reward"] is not None]
    mean = lambda part, key: sum(r[key] for r in part) / len(part)
    return {"gold_start": checked[0]["gold_accuracy"], "gold_end": checked[-1]["gold_accuracy"],
            "gold_best": max(r["gold_accuracy"] for r in checked),
            "held_out_reward_start": checked[0].get("held_out_reward"),
            "held_out_reward_end": checked[-1].get("held_out_reward"),
            "reward_start": mean(trained[:first], "reward"), "reward_end": mean(trained[-first:], "reward"),
            "length_start": mean(trained[:first], "completion_length"),
            "length_end": mean(trained[-first:], "completion_length")}


def plot_runs(runs: dict, save=None):
    """Runs of `run_tracked` side by side ({name: rows}), all measured on the same held-out prompts at each check:
    the reward the run optimizes, on the policy's greedy completions (gained since step 0, in units of its spread
    over those completions at step 0, so reward models on different scales compare), their gold accuracy, and
    their mean length."""
    import matplotlib.pyplot as plt

    from .plots import _finish

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, rows in runs.items():
        checked = [r for r in rows if r["gold_accuracy"] is not None]
        steps = [r["step"] for r in checked]
        start, unit = checked[0]["held_out_reward"], checked[0]["held_out_reward_std"] or 1.0
        line, = axes[0].plot(steps, [(r["held_out_reward"] - start) / unit for r in checked], "o-", label=name)
        axes[1].plot(steps, [r["gold_accuracy"] for r in checked], "o-", color=line.get_color())
        axes[2].plot(steps, [r["held_out_length"] for r in checked], "o-", color=line.get_color())
    axes[0].axhline(0, color="gray", lw=0.8)
    axes[0].set(xlabel="GRPO step", ylabel="its reward, gained since step 0\n(in spreads at step 0; the proxy)")
    axes[1].set(xlabel="GRPO step", ylabel="gold accuracy\n(up = really better)", ylim=(0, 1))
    axes[2].set(xlabel="GRPO step", ylabel="mean length (tokens)\n(up = longer, not better)")
    axes[1].legend(*axes[0].get_legend_handles_labels(), loc="upper left", fontsize=8)   # accuracy stays low: room
    fig.suptitle("GRPO, checked on 64 held-out prompts (greedy): the reward it optimizes vs the answers it gets right")
    return _finish(fig, save)
