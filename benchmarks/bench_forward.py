"""Per-token cost of a reward model's forward pass against batch size (is batching able to help?).

    python benchmarks/bench_forward.py --model outputs/cli-rm [--merge] [--threads N]

Random token ids, `torch.inference_mode`, one warm-up call then the median of --repeats calls per shape.
If the microseconds per token barely fall from batch 1 to batch 32, the model is compute-bound per token on
this machine and batching can only remove per-call overhead. Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbhelpers.modeling import load_reward_model  # noqa: E402

SHAPES = [(1, 90), (1, 200), (8, 90), (32, 90), (64, 128), (16, 256)]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--merge", action="store_true", help="merge LoRA weights into the base first")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_reward_model(args.model, device="cpu")[0].eval()
    if args.merge:
        model = model.merge_and_unload()
    rows = []
    with torch.inference_mode():
        for batch, length in SHAPES:
            ids = torch.randint(100, 5000, (batch, length), generator=torch.Generator().manual_seed(0))
            model(input_ids=ids)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                model(input_ids=ids)
                times.append(time.perf_counter() - start)
            ms = statistics.median(times) * 1e3
            rows.append({"batch": batch, "tokens": length, "ms": round(ms, 2),
                         "us_per_token": round(ms * 1e3 / (batch * length), 1)})
            print(f"batch {batch:3d} x {length:3d} tokens: {ms:8.1f} ms  {rows[-1]['us_per_token']:6.1f} us/token",
                  file=sys.stderr)
    report = {"model": args.model, "merged": args.merge, "threads": torch.get_num_threads(), "shapes": rows}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
