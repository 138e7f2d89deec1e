"""Notebook 03's troubleshooting helpers: short runs with and without reward centering, stats and the plot."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from helpers import make_pairs  # noqa: E402
from nbhelpers import score_drift  # noqa: E402


def test_reward_stats_pool_both_sides_and_count_ties_as_misses():
    stats = score_drift.reward_stats([(2.0, 0.0), (1.0, 3.0), (4.0, 4.0)])
    assert stats["mean"] == pytest.approx(14 / 6) and stats["min"] == 0.0 and stats["max"] == 4.0
    assert stats["std"] == pytest.approx(1.633, abs=1e-3)   # sample std of 2, 0, 1, 3, 4, 4
    assert stats["accuracy"] == pytest.approx(1 / 3)
    assert stats["confidence"] == pytest.approx((0.8808 + 0.8808 + 0.5) / 3, abs=1e-4)   # sigmoid(2), sigmoid(2), 1/2


def test_stats_table_has_one_line_per_row():
    table = score_drift.stats_table({"raw": [(3.0, 1.0)], "a longer name": [(0.5, -0.5), (0.0, 1.0)]})
    lines = table.splitlines()
    assert len(lines) == 3 and "accuracy" in lines[0] and "confidence" in lines[0]
    assert lines[1].startswith("raw ") and "+2.00" in lines[1] and "1.000" in lines[1]
    assert lines[2].startswith("a longer name") and "0.500" in lines[2]


def test_map_pairs_applies_a_normalizer_to_both_sides():
    from nbhelpers.scoring import Normalizer

    assert score_drift.map_pairs(Normalizer(1.0, 2.0), [(3.0, -1.0), (1.0, 5.0)]) == [(1.0, -1.0), (0.0, 2.0)]


def test_clip_effect_counts_changed_rewards_and_new_ties():
    before = [(2.5, 1.5), (0.5, -3.0), (0.2, 0.2)]
    after = [(1.0, 1.0), (0.5, -1.0), (0.2, 0.2)]
    assert score_drift.clip_effect(before, after) == {"rewards": 3, "ties": 1}


@pytest.mark.slow
def test_centering_keeps_the_rewards_of_a_short_run_nearer_zero(tiny_profile):
    """The same seeded run on a random body: without centering the held-out rewards spread far from 0;
    a centering coefficient keeps the largest |reward| at less than half of that. Both runs are head only."""
    train, held_out = make_pairs(24, seed=3), make_pairs(8, seed=99)
    runs = score_drift.centering_runs(train, tiny_profile, steps=6, batch_size=4, learning_rate_scale=3,
                                      coefficients=(None, 0.1))
    assert all(scorer.verifier is None for scorer in runs.values())
    stats = {c: score_drift.reward_stats(scorer.score_pairs(held_out)) for c, scorer in runs.items()}
    largest = {c: max(-s["min"], s["max"]) for c, s in stats.items()}
    assert largest[0.1] < largest[None] / 2, largest


def test_histograms_one_panel_per_title_saved(tmp_path):
    panels = {"training": {"no centering": [(4.0, 5.0), (-3.0, 1.0)], "centered": [(0.1, -0.2)]},
              "scoring": {"raw": [(1.0, 0.0)]}}
    fig = score_drift.plot_reward_histograms(panels, save=tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0
    assert [ax.get_title() for ax in fig.axes] == ["training", "scoring"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["no centering", "centered"]
    assert all("better" in ax.get_xlabel() for ax in fig.axes)
    assert sum(patch.get_height() for patch in fig.axes[0].patches) == 6   # both sides of every pair
    fig.canvas.draw()
    for ax in fig.axes:   # below the axes, never over a bar
        assert ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0
