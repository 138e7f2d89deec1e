"""Matplotlib plots used by the notebooks; each returns the figure and can save a PNG.
Every axis says which way is better."""
from __future__ import annotations

from pathlib import Path

OUTSIDE_RIGHT = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0))   # a legend beside the axes: never over the data


def _finish(fig, save):
    fig.tight_layout()
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save, dpi=110)
    return fig


def plot_margins(chosen, rejected, categories=None, title="Chosen vs rejected rewards", save=None,
                 names=("chosen", "rejected"), reward=None):
    """Histogram of margins (chosen - rejected) and a chosen-vs-rejected scatter; `names` label the two sides,
    `reward` says whose rewards they are (e.g. "reward model (head + verifier)"), in the title."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    margins = [c - r for c, r in zip(chosen, rejected)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(margins, bins=30, color="tab:blue", alpha=0.8)
    left.axvline(0, color="black", lw=1)
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    acc = sum(m > 0 for m in margins) / max(len(margins), 1)
    first, second = names
    left.set(title=f"Right of 0 = {first} wins ({acc:.2f} of pairs)", ylabel="pairs",
             xlabel=f"margin = {first} - {second} (higher is better)")
    cats = categories or ["all"] * len(margins)
    for cat in sorted(set(cats)):
        idx = [i for i, c in enumerate(cats) if c == cat]
        right.scatter([rejected[i] for i in idx], [chosen[i] for i in idx], s=12, alpha=0.7, label=cat)
    lo, hi = min(list(chosen) + list(rejected)), max(list(chosen) + list(rejected))
    right.plot([lo, hi], [lo, hi], color="black", lw=1)
    right.set(title=f"Above the diagonal = {first} wins", xlabel=f"{second} reward", ylabel=f"{first} reward")
    if len(set(cats)) > 1:
        right.legend(fontsize=8, **OUTSIDE_RIGHT)
    fig.suptitle(f"{title} · {reward}" if reward else title)
    return _finish(fig, save)


def plot_history(history, save=None):
    """Training loss, accuracy and margin over steps from a metrics history: the running training metrics
    and TRL's evaluation on the test split, which scores with the head alone (the verifier comes after)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    metrics = {"loss": ("Bradley-Terry loss", "loss (lower is better)"),
               "accuracy": ("Pairwise accuracy", "accuracy (higher is better)"),
               "margin": ("Mean margin", "chosen - rejected (higher is better)")}
    for ax, (key, (title, ylabel)) in zip(axes, metrics.items()):
        train = [(h["step"], h[key]) for h in history if key in h]
        if train:
            ax.plot(*zip(*train), "-", label="train (running)")
        evals = [(h["step"], h["eval_" + key]) for h in history if "eval_" + key in h]
        if evals:
            single = f": {evals[0][1]:.3f}" if len(evals) == 1 else ""   # one point: its value in the legend
            ax.plot(*zip(*evals), "o--", color="tab:orange", label=f"eval (head only){single}")
        ax.set(title=title, xlabel="step", ylabel=ylabel)
        ax.legend()
    return _finish(fig, save)


def plot_by_category(report, save=None):
    """Accuracy per category from an evaluation report, beside the head alone's when the report has it."""
    import matplotlib.pyplot as plt

    cats = list(report["by_category"])
    rows = range(len(cats))
    head = report.get("head_only")
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(cats) + 1.5))
    bars = [("head + verifier", report, "tab:green"), ("head only", head, "tab:gray")] if head else \
        [("reward", report, "tab:green")]
    height = 0.8 / len(bars)
    for i, (name, rep, color) in enumerate(bars):
        offset = (len(bars) - 1) / 2 * height - i * height
        ax.barh([r + offset for r in rows], [rep["by_category"][c]["accuracy"] for c in cats], height=height,
                color=color, label=f"{name} (overall {rep['accuracy']:.2f})")
    ax.set_yticks(list(rows), cats)
    ax.axvline(0.5, color="black", ls="--", lw=1, label="chance")
    ax.set(xlim=(0, 1), xlabel="pairwise accuracy (higher is better)", title="Accuracy by category")
    ax.legend(**OUTSIDE_RIGHT)
    return _finish(fig, save)


def plot_calibration(report, save=None):
    """Reliability plot: predicted P(chosen wins) = sigmoid(|margin|) against observed accuracy."""
    import matplotlib.pyplot as plt

    bins = report["calibration"]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0.5, 1], [0.5, 1], color="gray", ls="--")
    ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], "o-")
    ax.set(xlabel="predicted sigmoid(|margin|)", ylabel="observed accuracy")
    ax.set_title("Calibration: on the diagonal is best\nabove = under-confident, below = over-confident", fontsize=10)
    return _finish(fig, save)


def plot_lengths(lengths, max_length, save=None):
    """Histogram of token lengths with the profile's max_length."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(lengths, bins=40, color="tab:purple", alpha=0.8)
    ax.axvline(max_length, color="red", lw=1.5, label=f"max_length = {max_length}")
    ax.set(xlabel="tokens (prompt + response, chat template; left of max_length is kept whole)", ylabel="texts",
           title="Token lengths")
    ax.legend()
    return _finish(fig, save)


def plot_margin_histograms(reports: dict, title="Margins on held-out pairs", save=None):
    """One margin histogram per evaluation report ({label: report}), side by side on the same bins and axes:
    how far right of 0 the margins lie shows how well each model separates chosen from rejected."""
    import matplotlib.pyplot as plt

    margins = {label: report["margins"] for label, report in reports.items()}
    everything = [m for ms in margins.values() for m in ms]
    lo, hi = min(everything + [-1.0]), max(everything + [1.0])
    bins = [lo + (hi - lo) * i / 30 for i in range(31)]
    fig, axes = plt.subplots(1, len(reports), figsize=(4 * len(reports), 3.4), sharex=True, sharey=True,
                             squeeze=False)
    for ax, (label, report) in zip(axes[0], reports.items()):
        ax.hist(report["margins"], bins=bins, color="tab:blue", alpha=0.8)
        ax.axvline(0, color="black", lw=1)
        ax.set(title=f"{label}\naccuracy {report['accuracy']:.2f}, mean margin {report['mean_margin']:.2f}",
               xlabel="margin = chosen - rejected (right of 0 is right)")
        ax.title.set_fontsize(10)
    axes[0][0].set_ylabel("pairs")
    fig.suptitle(title)
    return _finish(fig, save)
