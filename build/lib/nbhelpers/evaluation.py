"""Evaluation of a reward model on preference pairs: accuracy, margins, length bias, calibration."""
from __future__ import annotations

import math
from collections import defaultdict

from .thinking import select_part


TIE = 1e-6   # |margin| below this: the two responses got the same reward (e.g. the scored part is identical)


def _summary(margins: list[float]) -> dict:
    """n, accuracy (margin > 0; a tie is not a win), share of ties, mean margin."""
    n = len(margins)
    return {"n": n, "accuracy": sum(m > TIE for m in margins) / n if n else float("nan"),
            "ties": sum(abs(m) <= TIE for m in margins) / n if n else float("nan"),
            "mean_margin": sum(margins) / n if n else float("nan")}


def evaluate_pairs(scorer, pairs: list[dict], n_bins: int = 5) -> dict:
    """Pairwise accuracy overall and per category, margins, length bias and calibration."""
    rewards = scorer.score_pairs(pairs)
    margins = [c - r for c, r in rewards]
    report = _summary(margins)
    by_cat = defaultdict(list)
    for pair, margin in zip(pairs, margins):
        by_cat[pair.get("category") or "all"].append(margin)
    report["by_category"] = {cat: _summary(m) for cat, m in sorted(by_cat.items())}
    longer_rejected = [m for p, m in zip(pairs, margins) if len(p["rejected"]) > len(p["chosen"])]
    report["accuracy_rejected_longer"] = _summary(longer_rejected)["accuracy"] if longer_rejected else None
    lengths = [len(p[s]) for p in pairs for s in ("chosen", "rejected")]
    report["length_reward_correlation"] = correlation(lengths, [r for pair in rewards for r in pair])
    report["calibration"] = calibration(margins, n_bins)
    if getattr(scorer, "verifier", None):
        # the SEQ_CLS head alone, always reported beside the combination
        head = evaluate_pairs(scorer.head_only(), pairs)
        report["head_only"] = {"accuracy": head["accuracy"], "mean_margin": head["mean_margin"],
                               "by_category": head["by_category"]}
    report["margins"] = margins
    report["rewards"] = rewards
    return report


def thinking_removal(scorer, prompts, responses) -> dict:
    """Score each response as it is and with its thinking removed (only the text after the last `</think>`).
    A reward model that teaches "think first" must not reward the removal: check it on your own responses
    (correct reasoning written in your own words) before an RL run leans on the reward."""
    full = scorer.score_batch(prompts, responses)
    bare = scorer.score_batch(prompts, [select_part(r, "answer") for r in responses])
    raised = [i for i, (f, b) in enumerate(zip(full, bare)) if b > f]
    return {"n": len(full), "full": full, "bare": bare, "raised": raised,
            "share_raised": len(raised) / len(full) if full else float("nan")}


def category_table(reports: dict[str, dict], value: str = "accuracy") -> str:
    """Plain-text table: one row per category (and overall), one column per report (e.g.
    {"head only": report["head_only"], "combined": report}, or the same model on two test sets)."""
    categories = list(dict.fromkeys(c for r in reports.values() for c in r["by_category"]))
    width = max([len("category")] + [len(c) for c in categories]) + 2
    column = max([9] + [len(name) for name in reports]) + 2

    def cell(report, category=None):
        row = report["by_category"].get(category) if category else report
        return f"{row[value]:{column}.3f}" if row else f"{'-':>{column}s}"
    lines = [f"{'category':{width}s}" + "".join(f"{name:>{column}s}" for name in reports)]
    lines += [f"{c:{width}s}" + "".join(cell(r, c) for r in reports.values()) for c in categories]
    lines.append(f"{'overall':{width}s}" + "".join(cell(r) for r in reports.values()))
    return "\n".join(lines)


def correlation(xs, ys) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (sx * sy) if sx and sy else 0.0


def calibration(margins: list[float], n_bins: int = 5) -> list[dict]:
    """Bradley-Terry says P(chosen preferred) = sigmoid(margin). Bin pairs by that predicted
    probability (folded to >= 0.5) and compare with how often the model was right."""
    rows = []
    for m in margins:
        p = 1 / (1 + math.exp(-abs(m))) if abs(m) < 50 else 1.0
        rows.append((p, m > 0))
    bins = []
    for b in range(n_bins):
        lo, hi = 0.5 + 0.5 * b / n_bins, 0.5 + 0.5 * (b + 1) / n_bins
        inside = [(p, ok) for p, ok in rows if lo <= p < hi or (b == n_bins - 1 and p == 1.0)]
        if inside:
            bins.append({"lo": lo, "hi": hi, "n": len(inside), "predicted": sum(p for p, _ in inside) / len(inside),
                         "observed": sum(ok for _, ok in inside) / len(inside)})
    return bins
