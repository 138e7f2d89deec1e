"""GRPO with a gold check: does the tiny policy get better, or only its reward? (`nbhelpers.rl_demo`)

    python benchmarks/grpo_gold.py REWARD [--steps 30] [--seed 0] [--model outputs/reward-model] [--flawed DIR]

REWARD is `gold` (the correct-answer check itself: the upper bound), `rm` (the kit's reward model: head +
verifier), `rm_head` (its head only), or `flawed` / `flawed_head` (a reward model trained without the
`longer_but_worse` pairs, in DIR, with and without its verifier). Settings: the policy restricted to its trained
vocabulary, learning rate 3e-4, 8 generations x 4 prompts per step, top_k 20, 128 new tokens, beta 0; greedy gold
accuracy on 64 held-out problems (`make_problems(64, seed=0)`) every 5 steps. Run it with OMP_NUM_THREADS=1 on a
busy machine. Prints the accuracy per check, the mean reward and sample length of the first and last 5 steps.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbhelpers import grpo, rl_demo  # noqa: E402
from nbhelpers.generate.datagen import make_problems  # noqa: E402
from nbhelpers.paths import MODEL_DIR, OUTPUTS_DIR  # noqa: E402
from nbhelpers.scoring import RewardScorer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reward", choices=["gold", "rm", "rm_head", "flawed", "flawed_head"])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=str(MODEL_DIR))
    ap.add_argument("--flawed", help="a reward model trained without the longer_but_worse pairs")
    args = ap.parse_args()
    start = time.perf_counter()
    policy, tokenizer = grpo.load_policy(args.model, device="cpu", trained_vocab_only=True)
    if args.reward == "gold":
        reward = rl_demo.gold_reward
    else:
        scorer = RewardScorer.from_folder(args.flawed if args.reward.startswith("flawed") else args.model)
        reward = grpo.make_reward_fn(scorer.head_only() if args.reward.endswith("_head") else scorer)
    held_out = make_problems(64, seed=0, partition="test")
    train = make_problems(400, seed=args.seed, partition="train")
    loaded = time.perf_counter()
    rows = rl_demo.run_tracked(policy, tokenizer, [reward], train, held_out, OUTPUTS_DIR / "grpo-gold",
                               max_steps=args.steps, eval_every=5, learning_rate=3e-4, num_generations=8,
                               prompts_per_step=4, top_k=20, seed=args.seed, log_level="error")
    ran = time.perf_counter()
    checks = [(r["step"], round(r["gold_accuracy"], 3)) for r in rows if r["gold_accuracy"] is not None]
    steps = [r for r in rows if r["reward"] is not None]
    mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)
    print(f"{args.reward} seed {args.seed}: load {loaded - start:.0f} s, run {ran - loaded:.0f} s")
    print(f"gold accuracy (step, accuracy): {checks}")
    print(f"reward, first 5 steps {mean(steps[:5], 'reward'):.3f} -> last 5 {mean(steps[-5:], 'reward'):.3f}; "
          f"sample length {mean(steps[:5], 'completion_length'):.1f} -> {mean(steps[-5:], 'completion_length'):.1f}")


if __name__ == "__main__":
    main()
