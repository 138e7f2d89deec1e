"""Matplotlib plots used by the notebooks; each returns the figure and can save a PNG."""
from __future__ import annotations

from pathlib import Path


def _finish(fig, save):
    fig.tight_layout()
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save, dpi=110)
    return fig


def plot_margins(chosen, rejected, categories=None, title="Chosen vs rejected rewards", save=None,
                 names=("chosen", "rejected")):
    """Histogram of margins (chosen - rejected) and a chosen-vs-rejected scatter; `names` label the two sides."""
    import matplotlib.pyplot as plt

    margins = [c - r for c, r in zip(chosen, rejected)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(margins, bins=30, color="tab:blue", alpha=0.8)
    left.axvline(0, color="black", lw=1)
    acc = sum(m > 0 for m in margins) / max(len(margins), 1)
    first, second = names
    left.set(title=f"Margin = {first} - {second}: right of 0 = {first} wins ({acc:.2f})", xlabel="margin", ylabel="pairs")
    cats = categories or ["all"] * len(margins)
    for cat in sorted(set(cats)):
        idx = [i for i, c in enumerate(cats) if c == cat]
        right.scatter([rejected[i] for i in idx], [chosen[i] for i in idx], s=12, alpha=0.7, label=cat)
    lo, hi = min(list(chosen) + list(rejected)), max(list(chosen) + list(rejected))
    right.plot([lo, hi], [lo, hi], color="black", lw=1)
    right.set(title=f"Above the diagonal = {first} wins", xlabel=f"{second} reward", ylabel=f"{first} reward")
    if categories:
        right.legend(fontsize=8)
    fig.suptitle(title)
    return _finish(fig, save)


def plot_history(history, save=None):
    """Training loss, accuracy and margin over steps (train and eval) from a metrics history."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    better = {"loss": "Bradley-Terry loss (lower is better)", "accuracy": "pairwise accuracy (higher is better)",
              "margin": "mean margin (higher is better)"}
    for ax, key in zip(axes, ("loss", "accuracy", "margin")):
        for prefix, style in (("", "-"), ("eval_", "o--")):
            pts = [(h["step"], h[prefix + key]) for h in history if prefix + key in h]
            if pts:
                ax.plot(*zip(*pts), style, label="eval (test split)" if prefix else "train (running)")
        ax.set(title=better[key], xlabel="step", ylabel="chosen - rejected" if key == "margin" else key)
        ax.legend()
    return _finish(fig, save)


def plot_by_category(report, save=None):
    """Accuracy per category from an evaluation report."""
    import matplotlib.pyplot as plt

    cats = list(report["by_category"])
    accs = [report["by_category"][c]["accuracy"] for c in cats]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(cats, accs, color="tab:green")
    ax.axvline(0.5, color="gray", ls="--", lw=1, label="chance")
    ax.set(xlim=(0, 1), xlabel="pairwise accuracy", title=f"Accuracy by category (overall {report['accuracy']:.2f})")
    ax.legend()
    return _finish(fig, save)


def plot_calibration(report, save=None):
    """Reliability plot: predicted P(chosen wins) = sigmoid(|margin|) against observed accuracy."""
    import matplotlib.pyplot as plt

    bins = report["calibration"]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0.5, 1], [0.5, 1], color="gray", ls="--", label="perfect")
    ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], "o-", label="model")
    ax.set(xlabel="predicted sigmoid(|margin|)", ylabel="observed accuracy", title="Calibration")
    ax.legend()
    return _finish(fig, save)


def plot_lengths(lengths, max_length, save=None):
    """Histogram of token lengths with the profile's max_length."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(lengths, bins=40, color="tab:purple", alpha=0.8)
    ax.axvline(max_length, color="red", lw=1.5, label=f"max_length = {max_length}")
    ax.set(xlabel="tokens (prompt + response, chat template)", ylabel="texts", title="Token lengths")
    ax.legend()
    return _finish(fig, save)
