"""Best-of-N with the reward model on held-out test prompts: the accuracy table and its cost.

    python benchmarks/bench_best_of_n.py [--model outputs/reward-model] [--prompts 16] [--max-new-tokens 96]
                                         [--seed 0] [--threads N]

Samples max(ns) completions per prompt from the reward model's base causal LM (the tiny policy), scores them
with the reward model and its head only, and prints the best-of-N table (`nbhelpers.best_of_n`) with the
seconds taken by loading and by sampling + scoring. Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbhelpers import best_of_n  # noqa: E402
from nbhelpers.data import load_pairs  # noqa: E402
from nbhelpers.grpo import load_policy  # noqa: E402
from nbhelpers.paths import MODEL_DIR, TEST_FILE  # noqa: E402
from nbhelpers.scoring import RewardScorer  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(MODEL_DIR))
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--ns", type=int, nargs="+", default=list(best_of_n.NS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    scorer = RewardScorer.from_folder(args.model)
    policy, tokenizer = load_policy(args.model, trained_vocab_only=True)
    loaded = time.perf_counter()
    result, _ = best_of_n.best_of_n(policy, tokenizer, scorer, load_pairs(TEST_FILE)[:args.prompts], ns=args.ns,
                                    max_new_tokens=args.max_new_tokens, seed=args.seed)
    done = time.perf_counter()
    print(result.table())
    out = {"prompts": args.prompts, "max_new_tokens": args.max_new_tokens, "seed": args.seed,
           "threads": torch.get_num_threads(),
           "load_s": round(loaded - start, 1), "best_of_n_s": round(done - loaded, 1),
           "ns": result.ns, "accuracy": result.accuracy, "closed_thinking": result.closed_thinking}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
