"""Overconfident scores, shown happening and then fixed (notebook 03, *Troubleshooting*).

Bradley-Terry's loss, -log sigmoid(r_chosen - r_rejected), sees only differences of rewards: adding a
constant to every reward leaves it unchanged, so nothing in it holds the rewards' level, and training is free to
let them drift to extreme values (within a few steps at a high learning rate). TRL's `center_rewards_coefficient` c adds
c * mean((r_chosen + r_rejected) ** 2) over the batch's pairs to the loss (`RewardTrainer.compute_loss` in
trl/trainer/reward_trainer.py; Eisenstein et al. 2023, arXiv 2312.09244, Eq. 2), pulling every pair's rewards
toward a sum of 0. `centering_runs` trains one short run with and without it; at scoring time a fitted
`Normalizer` and a clip (`RewardScorer.replace`) fix the scale of any trained model.
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace
from statistics import mean, stdev

from .modeling import load_for_training
from .profiles import Profile, get_profile
from .troubleshooting import train_head


def centering_runs(train_pairs: list[dict], profile: Profile | str | None = None, steps: int = 10,
                   batch_size: int = 8, learning_rate_scale: float = 1.0, coefficients=(None, 0.01),
                   seed: int = 0) -> dict:
    """{coefficient: head-only scorer}: the same short run (pairs, seed, steps, batch size, the profile's
    learning rate times `learning_rate_scale`) once per `center_rewards_coefficient` (None: no centering),
    each from a copy of one freshly initialized model."""
    base = get_profile(profile)
    base = replace(base, batch_size=batch_size, learning_rate=base.learning_rate * learning_rate_scale)
    model, tokenizer = load_for_training(base, seed=seed)
    return {c: train_head(train_pairs[: steps * batch_size], replace(base, center_rewards_coefficient=c), steps, seed,
                          copy.deepcopy(model), tokenizer) for c in coefficients}


def both_sides(pair_rewards) -> list[float]:
    """Every reward of (chosen, rejected) rewards per pair, chosen and rejected alike."""
    return [r for pair in pair_rewards for r in pair]


def reward_stats(pair_rewards) -> dict:
    """Mean, standard deviation, min and max of all rewards; the pairwise accuracy; and the confidence the
    margins claim, the mean Bradley-Terry P(the preferred response wins) = sigmoid(|margin|), from
    (chosen, rejected) rewards per pair (`RewardScorer.score_pairs`, or `post`-processed ones)."""
    rewards = both_sides(pair_rewards)
    return {"mean": mean(rewards), "std": stdev(rewards), "min": min(rewards), "max": max(rewards),
            "accuracy": sum(c > r for c, r in pair_rewards) / len(pair_rewards),
            "confidence": mean(1 / (1 + math.exp(-abs(c - r))) for c, r in pair_rewards)}


def map_pairs(fn, pair_rewards) -> list[tuple[float, float]]:
    """(fn(chosen), fn(rejected)) per pair: a normalizer or a scorer's `post` applied to both sides."""
    return [(fn(chosen), fn(rejected)) for chosen, rejected in pair_rewards]


def clip_effect(before, after) -> dict:
    """What a clip did to (chosen, rejected) rewards per pair: how many rewards it changed, how many pairs it tied."""
    return {"rewards": sum(a != b for pair, clipped in zip(before, after) for a, b in zip(pair, clipped)),
            "ties": sum(c == r for c, r in after) - sum(c == r for c, r in before)}


def stats_table(rows: dict) -> str:
    """`reward_stats` of each {name: (chosen, rejected) rewards per pair}, one line each."""
    width = max(map(len, rows))
    lines = [f"{'':{width}s}   mean    std     min     max  accuracy  confidence"]
    for name, pair_rewards in rows.items():
        s = reward_stats(pair_rewards)
        lines.append(f"{name:{width}s} {s['mean']:+6.2f} {s['std']:6.2f} {s['min']:+7.2f} {s['max']:+7.2f}  "
                     f"{s['accuracy']:8.3f}  {s['confidence']:10.3f}")
    return "\n".join(lines)


def plot_reward_histograms(panels: dict, save=None):
    """One histogram panel per title in `panels` ({title: {label: (chosen, rejected) rewards per pair}}):
    each label's rewards (both sides) overlaid on the same bins, the legend below the axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .plots import _finish

    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items()):
        rewards = {label: both_sides(pair_rewards) for label, pair_rewards in series.items()}
        bins = np.histogram_bin_edges(sum(rewards.values(), []), bins=30)
        for label, values in rewards.items():
            ax.hist(values, bins=bins, alpha=0.55, label=label)
        ax.axvline(0, color="black", lw=1)
        ax.set(title=title, xlabel="reward (higher is better)", ylabel="responses")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _finish(fig, save)
