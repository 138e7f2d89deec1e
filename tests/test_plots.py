"""The notebooks' plots: each says which way is better, legends stay off the data, labels tell what was scored."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from nbhelpers import grpo, plots  # noqa: E402


def report(accuracies, head=None):
    by_cat = {c: {"n": 10, "accuracy": a, "mean_margin": 1.0} for c, a in accuracies.items()}
    rep = {"accuracy": sum(accuracies.values()) / len(accuracies), "by_category": by_cat,
           "calibration": [{"predicted": 0.6, "observed": 0.7, "n": 5}, {"predicted": 0.9, "observed": 0.95, "n": 5}]}
    if head:
        rep["head_only"] = report(head)
    return rep


def better(ax):
    return "better" in ax.get_ylabel() + ax.get_xlabel() + ax.get_title()


def test_history_labels_the_head_only_eval_and_gives_a_single_point_its_value(tmp_path):
    history = [{"step": s, "loss": 0.6 - s / 100, "accuracy": 0.7, "margin": s / 10} for s in (5, 10)]
    history.append({"step": 12, "eval_loss": 0.45, "eval_accuracy": 0.786, "eval_margin": 1.2})
    fig = plots.plot_history(history, save=tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0
    for ax in fig.axes:
        assert better(ax)
        assert any(t.get_text().startswith("eval (head only)") for t in ax.get_legend().get_texts())
    assert "eval (head only): 0.786" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def test_margins_name_the_reward_integer_counts_and_no_legend_for_one_group():
    fig = plots.plot_margins([3.0, 2.5, 4.0], [1.0, 1.5, 5.0], ["word problem"] * 3, title="People's solutions",
                             names=("with", "without"), reward="reward model (head + verifier)")
    hist, scatter = fig.axes
    assert "reward model (head + verifier)" in fig.get_suptitle()
    assert all(float(t).is_integer() for t in hist.get_yticks())
    assert scatter.get_legend() is None and better(hist)
    fig = plots.plot_margins([3.0, 2.5], [1.0, 1.5], ["a", "b"])
    assert fig.axes[1].get_legend() is not None


@pytest.mark.parametrize("head", [None, {"x": 0.5, "y": 1.0}])
def test_by_category_legend_outside_and_head_only_bars_beside(head):
    fig = plots.plot_by_category(report({"x": 1.0, "y": 0.9}, head))
    ax = fig.axes[0]
    fig.canvas.draw()
    legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes.x1   # beside the axes, never over a bar
    assert len(ax.patches) == 2 * (2 if head else 1) and better(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("head only" in label for label in labels) == bool(head)


def test_calibration_says_what_above_and_below_mean():
    title = plots.plot_calibration(report({"x": 1.0})).axes[0].get_title()
    assert "under-confident" in title and "over-confident" in title and "best" in title


def test_grpo_rewards_one_panel_per_reward_function():
    rows = [{"step": s, "reward": 14.0 + s, "rewards/reward_model/mean": 13.5 + s, "rewards/think_format_reward/mean": 0.5}
            for s in (1, 2)]
    fig = grpo.plot_rewards(rows)
    assert [ax.get_title() for ax in fig.axes] == ["reward (sum)", "reward_model", "think_format_reward"]
    assert all(better(ax) for ax in fig.axes)
