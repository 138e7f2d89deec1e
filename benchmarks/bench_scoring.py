"""Benchmark: `RewardScorer` against the seed code's two scoring loops, side by side in one process.

    python benchmarks/bench_scoring.py [--n 1000] [--repeats 3] [--batch-size B] [--model DIR]

Methods (same model, same strings: every text is `formatting.format_text(prompt, response)`):
  loop   the seed's `get_reward`: one text at a time, `tokenizer(text)`, `torch.no_grad()`;
  batch  the seed's `get_rewards_batch`: consecutive UNSORTED chunks of B texts,
         `tokenizer(chunk, padding=True)`, `torch.no_grad()`; B = our average batch size unless --batch-size;
  ours   `RewardScorer.head_batch` (length-sorted batches under a token budget, original order restored,
         `torch.inference_mode`). Ours is timed end to end (formatting + tokenizing included);
         the baselines get their strings pre-formatted (formatting time excluded: conservative for us).
Each repeat runs the three methods one after another; times are medians over repeats.
The last stdout line is one JSON object (speedup, speedup_vs_batch, padding_efficiency, max_abs_diff, ...).
"""
from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import machine  # noqa: E402  (benchmarks/machine.py, beside this script)
from nbhelpers.formatting import format_text  # noqa: E402
from nbhelpers.scoring import RewardScorer  # noqa: E402

DATA = ROOT / "data" / "thinking_prefs" / "train.jsonl"


def rambling(i: int) -> tuple[str, str]:
    """A deterministic long answer: a think block with many repeated reasoning lines (~200-500 tokens)."""
    a, b = 100 + (i * 37) % 900, 10 + (i * 53) % 90
    lines = [f"Let me re-check step {k}: {a} + {b} = {a + b}, so carry and verify once more." for k in range(8 + (i * 7) % 17)]
    return f"What is {a} + {b}?", "<think>\n" + "\n".join(lines) + f"\n</think>\n\nThe answer is {a + b}."


def make_items(n: int, long_fraction: float = 0.15, seed: int = 0) -> list[tuple[str, str]]:
    """n (prompt, response) pairs: chosen and rejected responses from train.jsonl plus ~15% rambling ones."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    rng.shuffle(rows)
    n_long = round(n * long_fraction)
    items = [(r["prompt"], r["chosen" if k % 2 == 0 else "rejected"]) for k, r in enumerate(rows[: n - n_long])]
    items += [rambling(i) for i in range(n_long)]
    rng.shuffle(items)
    return items


def load_model(model_dir: str | None):
    if model_dir:
        from nbhelpers.modeling import load_reward_model

        model, tokenizer, meta = load_reward_model(model_dir, device="cpu")
        return model.eval(), tokenizer, meta
    from nbhelpers.modeling import load_for_training
    from nbhelpers.profiles import get_profile

    model, tokenizer = load_for_training(get_profile("tiny", warmup_lm_steps=0, verifier=False), [], device="cpu")
    return model.eval(), tokenizer, {}


def seed_loop(model, tokenizer, texts, **trunc) -> list[float]:
    """The seed's get_reward, called once per text."""
    out = []
    with torch.no_grad():
        for text in texts:
            inputs = tokenizer(text, return_tensors="pt", **trunc)
            out.append(model(**inputs).logits[0, 0].item())
    return out


def seed_batch(model, tokenizer, texts, batch_size: int, **trunc) -> list[float]:
    """The seed's get_rewards_batch: consecutive unsorted chunks, padded to the chunk's longest text."""
    out = []
    with torch.no_grad():
        for k in range(0, len(texts), batch_size):
            inputs = tokenizer(texts[k:k + batch_size], padding=True, return_tensors="pt", **trunc)
            out.extend(model(**inputs).logits[:, 0].tolist())
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=None, help="fixed batch size for both ours (max_batch) and the unsorted baseline")
    ap.add_argument("--token-budget", type=int, default=8192)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--model", default=None, help="saved reward-model folder (default: tiny architecture built in-process)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model, tokenizer, meta = load_model(args.model)
    scorer = RewardScorer(model, tokenizer, meta, token_budget=args.token_budget,
                          max_batch=args.batch_size or args.max_batch, use_verifier=False)
    items = make_items(args.n, seed=args.seed)
    prompts, responses = [p for p, _ in items], [r for _, r in items]
    texts = [format_text(tokenizer, p, r) for p, r in items]
    lengths = [len(scorer.encode(p, r)) for p, r in items]
    trunc = {}
    if scorer.max_length:   # a saved model's scorer keeps the last max_length tokens: give the baselines the same
        tokenizer.truncation_side = "left"
        trunc = {"truncation": True, "max_length": scorer.max_length}

    # warm-up (first-call allocations), then the batch size the baseline uses
    scorer.head_batch(prompts[:8], responses[:8])
    seed_loop(model, tokenizer, texts[:4])
    scorer.head_batch(prompts, responses)
    stats = dict(scorer.last_stats)
    avg_batch = len(items) / stats["batches"]
    batch_size = args.batch_size or max(1, round(avg_batch))

    times = {"loop": [], "batch": [], "ours": []}
    results = {}
    for _ in range(args.repeats):
        for name, run in (("loop", lambda: seed_loop(model, tokenizer, texts, **trunc)),
                          ("batch", lambda: seed_batch(model, tokenizer, texts, batch_size, **trunc)),
                          ("ours", lambda: scorer.head_batch(prompts, responses))):
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
        print(" ".join(f"{k}={v[-1]:.3f}s" for k, v in times.items()), file=sys.stderr, flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    batch_processed = sum(max(lengths[k:k + batch_size]) * len(lengths[k:k + batch_size])
                          for k in range(0, len(lengths), batch_size))
    report = {
        "speedup": med["loop"] / med["ours"],
        "speedup_vs_batch": med["batch"] / med["ours"],
        "padding_efficiency": stats["real_tokens"] / stats["processed_tokens"],
        "max_abs_diff": max(abs(a - b) for a, b in zip(results["ours"], results["loop"])),
        "max_abs_diff_batch_vs_loop": max(abs(a - b) for a, b in zip(results["batch"], results["loop"])),
        "padding_efficiency_unsorted_batch": sum(lengths) / batch_processed,
        "n": len(items), "n_long": sum("re-check step" in r for r in responses),
        "tokens_min_median_max": [min(lengths), int(statistics.median(lengths)), max(lengths)],
        "real_tokens": stats["real_tokens"],
        "ours_batches": stats["batches"], "ours_avg_batch": round(avg_batch, 2), "baseline_batch_size": batch_size,
        "token_budget": args.token_budget, "max_batch": scorer.max_batch, "repeats": args.repeats,
        "seconds_median": {k: round(v, 4) for k, v in med.items()},
        "seconds_all": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "texts_per_s": {k: round(len(items) / v, 1) for k, v in med.items()},
        "model": args.model or "tiny architecture (warmup_lm_steps=0, verifier=False), built in-process",
        "machine": {**machine(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix() if argv is None else "benchmarks/bench_scoring.py",
                                          *(sys.argv[1:] if argv is None else argv)]),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
