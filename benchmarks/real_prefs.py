"""Real human preferences: train every offline profile on your copy of a conversational preference set.

    python benchmarks/real_prefs.py DATA [--train 1500 --test 300] [--profiles minilm smollm2-135m tiny]

DATA is any source the kit reads (`nbhelpers.data.load_pairs`): e.g. Anthropic's HH-RLHF
`harmless-base/test.jsonl.gz` (whole "Human: ... Assistant: ..." transcripts, read as conversations) or an
UltraFeedback-style file. Nothing is downloaded and no data is shipped: bring your own copy.

A seeded sample is split into disjoint train and held-out pairs (written to --out as JSONL); each profile
trains through the CLI in its own process with `--truncate` (too-long conversations lose their oldest
turns), then `evaluate --json` reports held-out pairwise accuracy and the reward-length
correlation. Prints a Markdown table and, last, one JSON line.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from compare_profiles import run  # noqa: E402  (the same fresh-process runner, with peak memory)
from nbhelpers.data import load_pairs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profiles", nargs="+", default=["minilm", "smollm2-135m", "tiny"])
    parser.add_argument("--set", action="append", default=[], metavar="PROFILE:KEY=VALUE",
                        help="a profile override for one profile, e.g. minilm:epochs=2")
    parser.add_argument("--out", default=str(ROOT / "outputs/real_prefs"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = load_pairs(args.data, skip_invalid=True)
    if len(pairs) < args.train + args.test:
        sys.exit(f"{args.data}: {len(pairs)} valid pairs, fewer than --train {args.train} + --test {args.test}")
    sample = random.Random(args.seed).sample(pairs, args.train + args.test)
    files = {"train": out / "train.jsonl", "test": out / "test.jsonl"}
    for name, rows in (("train", sample[:args.train]), ("test", sample[args.train:])):
        files[name].write_text("".join(json.dumps(dict(p)) + "\n" for p in rows))
    turns = [len(p["prompt"]) if isinstance(p["prompt"], list) else 1 for p in sample]
    print(f"{args.data}: {len(pairs)} valid pairs; sample of {len(sample)}: {sum(t > 1 for t in turns)} with earlier "
          f"turns, {sum(turns) / len(turns):.1f} prompt messages on average", flush=True)
    rows = []
    for name in args.profiles:
        model = out / name
        settings = [s.split(":", 1)[1] for s in args.set if s.startswith(name + ":")]
        train_s, _, _ = run(["train", "--data", str(files["train"]), "--out", str(model), "--profile", name,
                          "--truncate", "--overwrite",
                          *[a for s in settings for a in ("--set", s)]])
        eval_s, _, stdout = run(["evaluate", "--model", str(model), "--data", str(files["test"]), "--json"])
        report = json.loads(stdout.strip().splitlines()[-1])
        meta = json.loads((model / "nbhelpers.json").read_text())
        rows.append({"profile": name, "settings": settings, "train_pairs": args.train, "test_pairs": args.test,
                     "train_s": round(meta["train_seconds"], 1), "train_wall_s": round(train_s, 1),
                     "eval_wall_s": round(eval_s, 1), "accuracy": report["accuracy"],
                     "head_only": report.get("head_only", {}).get("accuracy"),
                     "length_reward_correlation": round(report["length_reward_correlation"], 3),
                     "accuracy_rejected_longer": report["accuracy_rejected_longer"]})
        print(json.dumps(rows[-1]), flush=True)
    print("| profile | held-out accuracy | head only | reward-length correlation | accuracy where rejected is longer "
          "| training s | evaluation s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        head = "-" if r["head_only"] is None else f"{r['head_only']:.3f}"
        print(f"| {r['profile']} {' '.join(r['settings'])} | {r['accuracy']:.3f} | {head} | "
              f"{r['length_reward_correlation']:+.3f} | {r['accuracy_rejected_longer']:.3f} | {r['train_s']} | "
              f"{r['eval_wall_s']} |")
    print(json.dumps({"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
                      "data": str(args.data), "rows": rows}))


if __name__ == "__main__":
    main()
