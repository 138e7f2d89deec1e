"""Benchmark: plain TRL `RewardTrainer` defaults against our `training.train_reward_model` setup.

    python benchmarks/bench_training.py [--pairs 512] [--steps 32] [--batch-size 16] [--repeats 2]

Same data (the first --pairs pairs of data/thinking_prefs/train.jsonl), same model (tiny profile
architecture, warmup_lm_steps=0, verifier=False, LoRA SEQ_CLS), same steps and batch size. Variants:
  trl          string `chosen`/`rejected` columns (the `format_text` strings) through TRL's own
               tokenization, default collator, default (random) sampler, TRL/transformers defaults;
  ours_random  `train_reward_model` with the sampler forced back to "random" (our setup before grouping);
  ours         `train_reward_model` as shipped.
Each variant runs in its own subprocess (so peak RSS, from `resource.getrusage`, does not mix);
variants are interleaved over --repeats rounds and medians reported. Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import machine  # noqa: E402  (benchmarks/machine.py, beside this script)
DATA = ROOT / "data" / "thinking_prefs" / "train.jsonl"
VARIANTS = ("trl", "ours_random", "ours")


def run_variant(variant: str, n_pairs: int, steps: int, batch_size: int) -> dict:
    """Train one variant in this process; return its throughput, padding and peak RSS."""
    import torch
    import trl

    from nbhelpers.formatting import format_text
    from nbhelpers.modeling import load_for_training
    from nbhelpers.profiles import get_profile
    from nbhelpers.training import train_reward_model

    torch.manual_seed(0)
    pairs = [json.loads(line) for line in DATA.read_text().splitlines()[:n_pairs]]
    profile = get_profile("tiny", warmup_lm_steps=0, verifier=False, batch_size=batch_size)
    model, tokenizer = load_for_training(profile, [], device="cpu")

    # count real vs padded tokens in every training batch the collator builds
    pad_stats = {"real": 0, "processed": 0}
    collate = trl.trainer.reward_trainer.DataCollatorForPreference.torch_call

    def counting_call(self, examples):
        out = collate(self, examples)
        pad_stats["real"] += int(out["attention_mask"].sum())
        pad_stats["processed"] += out["attention_mask"].numel()
        return out
    trl.trainer.reward_trainer.DataCollatorForPreference.torch_call = counting_call

    out_dir = tempfile.mkdtemp(prefix=f"bench-{variant}-")
    start = time.perf_counter()
    if variant == "trl":
        from datasets import Dataset

        ds = Dataset.from_dict({side: [format_text(tokenizer, p["prompt"], p[side]) for p in pairs]
                                for side in ("chosen", "rejected")})
        args = trl.RewardConfig(output_dir=out_dir, report_to="none", per_device_train_batch_size=batch_size,
                                max_steps=steps, learning_rate=profile.learning_rate, max_length=profile.max_length,
                                use_cpu=True, save_strategy="no", seed=0, disable_tqdm=True)
        trainer = trl.RewardTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
        metrics = trainer.train().metrics
    else:
        if variant == "ours_random":
            config = trl.RewardConfig

            def random_sampler_config(*a, **kw):
                kw["train_sampling_strategy"] = "random"
                return config(*a, **kw)
            trl.RewardConfig = random_sampler_config
        result = train_reward_model(pairs, profile=profile, max_steps=steps, model=model, tokenizer=tokenizer,
                                    checkpoint_dir=Path(out_dir) / "ckpt")
        metrics = next(h for h in reversed(result.history) if "train_runtime" in h)
    wall = time.perf_counter() - start
    return {"variant": variant, "train_runtime": metrics["train_runtime"],
            "samples_per_s": metrics["train_samples_per_second"], "wall_seconds": wall,
            "padding_efficiency": pad_stats["real"] / max(pad_stats["processed"], 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "final_loss": metrics.get("train_loss")}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--variant", help=argparse.SUPPRESS)   # internal: run one variant, print its JSON
    args = ap.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.pairs, args.steps, args.batch_size)))
        return {}

    variants = args.variants.split(",")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v in variants:
            proc = subprocess.run([sys.executable, __file__, "--variant", v, "--pairs", str(args.pairs), "--steps",
                                   str(args.steps), "--batch-size", str(args.batch_size)],
                                  capture_output=True, text=True, check=True)
            runs[v].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(runs[v][-1]), file=sys.stderr, flush=True)

    def med(v, key):
        return statistics.median(r[key] for r in runs[v])
    table = {v: {k: round(med(v, k), 4) for k in ("samples_per_s", "train_runtime", "wall_seconds",
                                                  "padding_efficiency", "peak_rss_mb")} for v in variants}
    report = {
        "samples_per_s_ratio": table["ours"]["samples_per_s"] / table["trl"]["samples_per_s"]
        if {"ours", "trl"} <= set(variants) else None,
        "peak_rss_ratio": table["ours"]["peak_rss_mb"] / table["trl"]["peak_rss_mb"]
        if {"ours", "trl"} <= set(variants) else None,
        "variants": table, "pairs": args.pairs, "steps": args.steps, "batch_size": args.batch_size,
        "repeats": args.repeats, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": machine(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_training.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
