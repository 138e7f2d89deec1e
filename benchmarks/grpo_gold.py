"""GRPO with a gold check: does the tiny policy get better, or only its reward? (`nbhelpers.rl_demo`)

    python benchmarks/grpo_gold.py REWARD [--start body|lazy] [--steps 30] [--every 5] [--max-new-tokens 128]
                                          [--seed 0] [--model outputs/reward-model] [--flawed DIR]

REWARD is `gold` (the correct-answer check itself: the upper bound), `rm` (the kit's reward model: head +
verifier), `rm_head` (its head only), or `flawed` / `flawed_head` (a reward model trained without the
`longer_but_worse` pairs: the folder DIR with and without its verifier; without --flawed, `flawed` trains
notebook 04's: `rl_demo.train_flawed_reward_model`, head only, the profile's schedule). `--start lazy` first teaches the policy
to skip its thinking as notebook 04 does (`rl_demo.train_to_skip_thinking`, 20 SFT steps). Settings: the policy
restricted to its trained vocabulary, `rl_demo.DEMO_SETTINGS` (learning rate 3e-4, 8 generations x 4 prompts
per step, top_k 20), beta 0 (`--beta`: a KL penalty toward the starting policy);
greedy gold accuracy on 64 held-out problems (`make_problems(64, seed=0)`) every `--every` steps. Notebook 04
runs `--start lazy --steps 16 --every 4 --max-new-tokens 96` with `rm` and `flawed`. Run it with
OMP_NUM_THREADS=1 on a busy machine. Prints the accuracy per check and `rl_demo.summarize` of the run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbhelpers import grpo, rl_demo  # noqa: E402
from nbhelpers.data import load_pairs  # noqa: E402
from nbhelpers.generate.datagen import make_problems  # noqa: E402
from nbhelpers.paths import MODEL_DIR, OUTPUTS_DIR, TRAIN_FILE  # noqa: E402
from nbhelpers.scoring import RewardScorer  # noqa: E402


def reward_function(name: str, model: str, flawed: str | None, seed: int):
    if name == "gold":
        return rl_demo.gold_reward
    if name == "flawed" and not flawed:
        return grpo.make_reward_fn(rl_demo.train_flawed_reward_model(load_pairs(TRAIN_FILE), seed=seed))
    scorer = RewardScorer.from_folder(flawed if name.startswith("flawed") else model)
    return grpo.make_reward_fn(scorer.head_only() if name.endswith("_head") else scorer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reward", choices=["gold", "rm", "rm_head", "flawed", "flawed_head"])
    ap.add_argument("--start", choices=["body", "lazy"], default="body")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--beta", type=float, default=0.0, help="KL penalty toward the starting policy (TRL's beta)")
    ap.add_argument("--model", default=str(MODEL_DIR))
    ap.add_argument("--flawed", help="a reward model trained without the longer_but_worse pairs")
    args = ap.parse_args()
    if args.reward == "flawed_head" and not args.flawed:
        ap.error("flawed_head needs --flawed DIR")
    start = time.perf_counter()
    policy, tokenizer = grpo.load_policy(args.model, device="cpu", trained_vocab_only=True)
    if args.start == "lazy":
        rl_demo.train_to_skip_thinking(policy, tokenizer, load_pairs(TRAIN_FILE), OUTPUTS_DIR / "sft", seed=args.seed)
    reward = reward_function(args.reward, args.model, args.flawed, args.seed)
    held_out = make_problems(64, seed=0, partition="test")
    train = make_problems(400, seed=args.seed, partition="train", templates="test")
    ready = time.perf_counter()
    rows = rl_demo.run_tracked(policy, tokenizer, [reward], train, held_out, OUTPUTS_DIR / "grpo-gold",
                               max_steps=args.steps, eval_every=args.every, max_new_tokens=args.max_new_tokens,
                               seed=args.seed, beta=args.beta, log_level="error", **rl_demo.DEMO_SETTINGS)
    ran = time.perf_counter()
    checks = [(r["step"], round(r["gold_accuracy"], 3)) for r in rows if r["gold_accuracy"] is not None]
    summary = {k: round(v, 3) for k, v in rl_demo.summarize(rows, first=min(5, args.steps)).items()}
    print(f"{args.reward} from the {args.start} policy, beta {args.beta}, seed {args.seed}: setup {ready - start:.0f} s, run {ran - ready:.0f} s")
    print(f"gold accuracy (step, accuracy): {checks}")
    print(f"summary: {summary}")


if __name__ == "__main__":
    main()
