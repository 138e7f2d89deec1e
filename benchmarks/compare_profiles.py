"""Train and evaluate every offline profile on the shipped data, side by side.

    python benchmarks/compare_profiles.py [--profiles tiny minilm smollm2-135m] [--out outputs/compare]

Each profile trains through the CLI in its own process (so peak memory is its own), then
`evaluate --json` scores the test split and the two hand-written probes. Prints a Markdown table and, last, one JSON line.
Training-set sizes per profile are set below to keep each run to minutes on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN, TEST = ROOT / "data/thinking_prefs/train.jsonl", ROOT / "data/thinking_prefs/test.jsonl"
PROBES = {"probe": ROOT / "data/probe/probe.jsonl", "probe2": ROOT / "data/probe/probe2.jsonl"}
# pairs used for training (a seeded sample) and extra profile settings, per profile
BUDGET = {"tiny": (None, []), "minilm": (None, []), "smollm2-135m": (256, [])}


PEAK = ("import resource, runpy, sys\nsys.argv = ['nbhelpers', *sys.argv[1:]]\ntry:\n"
        "    runpy.run_module('nbhelpers', run_name='__main__')\nfinally:\n"
        "    print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")


def run(args) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in GiB, stdout) of `python -m nbhelpers ARGS` in a fresh process."""
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(f"nbhelpers {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    peak = int(proc.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0]) / 2**20
    return time.time() - start, peak, proc.stdout


def ece(calibration) -> float:
    n = sum(b["n"] for b in calibration)
    return sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in calibration) / max(n, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", nargs="+", default=list(BUDGET))
    parser.add_argument("--out", default=str(ROOT / "outputs/compare"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.profiles:
        n_pairs, extra = BUDGET.get(name, (None, []))
        data = TRAIN
        if n_pairs:
            lines = TRAIN.read_text().splitlines()
            data = out / f"train-{name}-{n_pairs}.jsonl"
            data.write_text("\n".join(random.Random(0).sample(lines, n_pairs)) + "\n")
        model = out / name
        train_s, peak, _ = run(["train", "--data", str(data), "--out", str(model),
                                "--profile", name, "--overwrite", *extra])
        score_s, _, stdout = run(["evaluate", "--model", str(model),
                                  "--data", str(TEST), "--json"])
        report = json.loads(stdout.strip().splitlines()[-1])
        meta = json.loads((model / "nbhelpers.json").read_text())
        probes = {k: json.loads(run(["evaluate", "--model", str(model), "--data", str(f), "--json"])[2]
                                .strip().splitlines()[-1])["accuracy"] for k, f in PROBES.items()}
        rows.append({"profile": name, "train_pairs": n_pairs or sum(1 for _ in open(TRAIN)),
                     "train_s": round(meta["train_seconds"], 1), "train_wall_s": round(train_s, 1),
                     "eval_wall_s": round(score_s, 1), "peak_rss_gib": round(peak, 2),
                     "accuracy": report["accuracy"], "ece": round(ece(report["calibration"]), 3),
                     "by_category": {k: v["accuracy"] for k, v in report["by_category"].items()},
                     "head_only": report.get("head_only", {}).get("accuracy"),
                     "head_only_by_category": {k: v["accuracy"] for k, v in
                                               report.get("head_only", {}).get("by_category", {}).items()},
                     **probes})
        print(json.dumps(rows[-1]), flush=True)
    cats = sorted({c for r in rows for c in r["by_category"]})
    print("| profile | pairs | " + " | ".join(cats) + " | overall | head only | ECE | train s | eval s | peak GiB | "
          + " | ".join(PROBES) + " |")
    print("|---" * (len(cats) + 8 + len(PROBES)) + "|")
    for r in rows:
        print(f"| {r['profile']} | {r['train_pairs']} | " + " | ".join(f"{r['by_category'][c]:.3f}" for c in cats)
              + f" | {r['accuracy']:.3f} | {r['head_only'] if r['head_only'] is None else round(r['head_only'], 3)}"
              f" | {r['ece']} | {r['train_s']} | {r['eval_wall_s']} | {r['peak_rss_gib']} | "
              + " | ".join(f"{r[k]:.3f}" for k in PROBES) + " |")
    print(json.dumps({"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
                      "rows": rows}))


if __name__ == "__main__":
    main()
