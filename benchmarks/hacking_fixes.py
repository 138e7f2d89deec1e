"""Notebook 05's comparison on several seeds: the flawed reward model, and each candidate fix, driving GRPO.

    python benchmarks/hacking_fixes.py [--seeds 0,1,2] [--steps 8] [--every 4] [--rewards flawed,fix,gold]
                                       [--model outputs/reward-model]

Every run starts from the tiny body (restricted to its trained vocabulary) with notebook 05's settings
(`rl_demo.DEMO_SETTINGS`: learning rate 3e-4, 8 generations x 4 prompts per step, top-k 20; 96 new tokens); the seed sets GRPO's sampling and the 400
training problems (`make_problems(400, seed=S, partition="train", templates="test")`); gold accuracy of the greedy
answers to 64 held-out problems (`make_problems(64, seed=0)`) every `--every` steps. The flawed model
(`rl_demo.train_flawed_reward_model`, seed 0) is trained once for all runs. Rewards: `flawed`; `fix` (notebook 02's
reward model, `--model`: balanced data + verifier); `balanced` (the flawed recipe with all the pairs: head only,
trained once); `kl` (the flawed model with `beta=3`); `gold` (`rl_demo.gold_reward`). Prints one line per run and
the mean number of right answers per reward.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbhelpers import grpo, rl_demo  # noqa: E402
from nbhelpers.data import load_pairs  # noqa: E402
from nbhelpers.generate.datagen import make_problems  # noqa: E402
from nbhelpers.paths import MODEL_DIR, OUTPUTS_DIR, TRAIN_FILE  # noqa: E402
from nbhelpers.profiles import get_profile  # noqa: E402
from nbhelpers.scoring import RewardScorer  # noqa: E402
from nbhelpers.troubleshooting import train_head  # noqa: E402

REWARDS = ("flawed", "fix", "balanced", "kl", "gold")


def reward_functions(names, model: str) -> dict:
    """{name: (reward functions, beta)} for the chosen rewards; each reward model is trained or loaded once."""
    pairs = load_pairs(TRAIN_FILE)
    flawed = rl_demo.train_flawed_reward_model(pairs, seed=0) if {"flawed", "kl"} & set(names) else None
    made = {"flawed": lambda: ([grpo.make_reward_fn(flawed)], 0.0),
            "fix": lambda: ([grpo.make_reward_fn(RewardScorer.from_folder(model))], 0.0),
            "balanced": lambda: ([grpo.make_reward_fn(train_head(pairs, get_profile("tiny"), -1, 0))], 0.0),
            "kl": lambda: ([grpo.make_reward_fn(flawed)], 3.0),
            "gold": lambda: ([rl_demo.gold_reward], 0.0)}
    return {name: made[name]() for name in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--rewards", default="flawed,fix,gold", help=f"comma-separated, from {', '.join(REWARDS)}")
    ap.add_argument("--model", default=str(MODEL_DIR))
    args = ap.parse_args()
    names = args.rewards.split(",")
    if set(names) - set(REWARDS):
        ap.error(f"unknown rewards {sorted(set(names) - set(REWARDS))}; choose from {', '.join(REWARDS)}")
    body, tokenizer = grpo.load_policy(args.model, device="cpu", trained_vocab_only=True)
    held_out = make_problems(64, seed=0, partition="test")
    rewards = reward_functions(names, args.model)
    right = {name: [] for name in names}
    for seed in map(int, args.seeds.split(",")):
        train = make_problems(400, seed=seed, partition="train", templates="test")
        for name, (functions, beta) in rewards.items():
            start = time.perf_counter()
            rows = rl_demo.run_tracked(copy.deepcopy(body), tokenizer, functions, train, held_out,
                                       OUTPUTS_DIR / "grpo-fixes", max_steps=args.steps, eval_every=args.every,
                                       max_new_tokens=96, seed=seed, beta=beta, log_level="error",
                                       **rl_demo.DEMO_SETTINGS)
            checks = [(r["gold_accuracy"], round(r["held_out_length"])) for r in rows if r["gold_accuracy"] is not None]
            right[name].append(round(checks[-1][0] * len(held_out)))
            print(f"seed {seed} {name}: gold accuracy, held-out length at each check {checks}; "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    for name, counts in right.items():
        print(f"{name}: right of {len(held_out)} at the end {counts}, mean {sum(counts) / len(counts):.1f}")


if __name__ == "__main__":
    main()
