"""Notebook 02's troubleshooting helpers: label noise, the margin it allows, a short run, the memory fixes."""
import copy
import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from helpers import make_pairs  # noqa: E402
from nbhelpers import plots  # noqa: E402
from nbhelpers.memory import GIB, fix_savings, format_table, report  # noqa: E402
from nbhelpers.profiles import get_profile  # noqa: E402
from nbhelpers.troubleshooting import best_margin, flip_labels, short_run  # noqa: E402


def swapped(before, after):
    return [i for i, (b, a) in enumerate(zip(before, after))
            if (a["chosen"], a["rejected"]) == (b["rejected"], b["chosen"])]


@pytest.mark.parametrize("fraction, expected", [(0.0, 0), (0.3, 6), (0.35, 7), (1.0, 20)])
def test_flip_labels_swaps_exactly_the_fraction_and_nothing_else(fraction, expected):
    pairs = make_pairs(20)
    kept = copy.deepcopy(pairs)
    noisy = flip_labels(pairs, fraction, seed=3)
    assert pairs == kept and [p.line for p in pairs] == [p.line for p in kept]   # the input is untouched
    assert len(swapped(pairs, noisy)) == expected
    untouched = [i for i in range(20) if i not in swapped(pairs, noisy)]
    assert all(noisy[i] == pairs[i] for i in untouched)
    assert [p.line for p in noisy] == [p.line for p in pairs]                     # source lines kept
    assert all(p["prompt"] == q["prompt"] and p["id"] == q["id"] for p, q in zip(pairs, noisy))


def test_flip_labels_is_seeded():
    pairs = make_pairs(30)
    same = [swapped(pairs, flip_labels(pairs, 0.4, seed=s)) for s in (1, 1, 2)]
    assert same[0] == same[1] and same[0] != same[2]


def test_flip_labels_rejects_a_fraction_outside_0_1():
    with pytest.raises(ValueError):
        flip_labels(make_pairs(4), 1.5)


def test_best_margin_is_where_the_noisy_bradley_terry_loss_is_lowest():
    for fraction in (0.1, 0.35):
        def loss(m):   # expected -log sigma(margin) when the label is wrong with probability `fraction`
            return -(1 - fraction) * math.log(1 / (1 + math.exp(-m))) - fraction * math.log(1 / (1 + math.exp(m)))
        grid = [i / 1000 for i in range(5000)]
        assert best_margin(fraction) == pytest.approx(min(grid, key=loss), abs=1e-3)
    assert best_margin(0.5) == 0


def test_short_run_trains_the_head_alone_and_reports_held_out_margins(capsys):
    train, held_out = make_pairs(8, seed=1), make_pairs(6, seed=2)
    profile = get_profile("tiny", warmup_lm_steps=0, max_length=128, batch_size=4, learning_rate=3e-3)
    assert profile.verifier
    run = short_run(train, held_out, profile, max_steps=2)
    assert capsys.readouterr().out == ""                                       # no metric lines
    assert len(run["margins"]) == 6 and "head_only" not in run                 # no verifier was fitted
    assert run["accuracy"] == sum(m > 0 for m in run["margins"]) / 6
    assert run["mean_margin"] == pytest.approx(sum(run["margins"]) / 6)
    assert (run["steps"], run["learning_rate"]) == (2, 3e-3) and run["train_seconds"] > 0


def test_margin_histograms_share_their_axes_and_title_each_run(tmp_path):
    reports = {"weak": {"margins": [0.1, -0.05, 0.02], "accuracy": 2 / 3, "mean_margin": 0.023},
               "trained": {"margins": [2.0, 3.5, -0.5], "accuracy": 2 / 3, "mean_margin": 1.667}}
    fig = plots.plot_margin_histograms(reports, save=tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 0
    weak, trained = fig.axes
    assert weak.get_xlim() == trained.get_xlim() and weak.get_ylim() == trained.get_ylim()
    assert "weak" in weak.get_title() and "mean margin 1.67" in trained.get_title()


def test_each_memory_fix_saves_what_the_table_says():
    profile = get_profile("qwen3-4b-thinking")
    rows = fix_savings(profile)
    totals = [row["total"] for row in rows]
    assert rows[0]["saves"] is None
    assert [row["saves"] for row in rows[1:]] == pytest.approx([a - b for a, b in zip(totals, totals[1:])])
    assert all(s > 0 for s in (row["saves"] for row in rows[1:]))
    assert rows[0]["n_trainable"] == rows[0]["n_total"] and rows[1]["n_trainable"] < rows[1]["n_total"] / 50
    marked = [row["label"] for row in rows if row["label"].endswith("= profile qwen3-4b-thinking")]
    assert len(marked) == 1 and "8-bit AdamW" in marked[0]
    assert "| saves |" in format_table(rows, 2, 1024)
    assert rows[3]["activations"] < rows[2]["activations"] / 5                 # gradient checkpointing
    assert rows[2]["weights"] < rows[1]["weights"] / 2                         # 4-bit NF4


def test_memory_report_is_what_the_cli_prints(capsys):
    from nbhelpers.cli import main

    assert main(["memory", "--batch", "1", "--seq", "512"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == report(get_profile("qwen3-4b-thinking"), 1, 512)
    assert "= profile" not in printed and "+ batch" not in printed             # batch 1 x 512: not its set-up
    assert f"{fix_savings(get_profile('qwen3-4b-thinking'), 1, 512)[0]['total'] / GIB:.2f}" in printed


def test_short_runs_cancel_the_trainers_checkpoints_and_logs():
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from nbhelpers.troubleshooting import _short_run_callback

    control = TrainerControl(should_save=True, should_log=True)
    _short_run_callback().on_step_end(TrainingArguments("unused", report_to="none"), TrainerState(), control)
    assert control.should_save is False and control.should_log is False
