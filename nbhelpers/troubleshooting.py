"""Training problems shown happening, then fixed (notebook 02's troubleshooting section).

A short run is the real training (`training.train_reward_model`: TRL's RewardTrainer) cut to a few steps, then
the real evaluation (`evaluation.evaluate_pairs`) on held-out pairs, so every symptom is a measured number.
"""
from __future__ import annotations

import contextlib
import io
import math
import random
import tempfile
from dataclasses import replace

from .data import Pair
from .evaluation import evaluate_pairs
from .profiles import Profile
from .scoring import RewardScorer
from .training import train_reward_model


def flip_labels(pairs: list[dict], fraction: float, seed: int = 0) -> list[dict]:
    """A copy of `pairs` in which round(fraction * len(pairs)) pairs, a seeded sample, have chosen and
    rejected swapped: label noise. Each keeps its source line; `pairs` itself is left as it was."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    swapped = set(random.Random(seed).sample(range(len(pairs)), round(fraction * len(pairs))))
    return [Pair({**pair, **({"chosen": pair["rejected"], "rejected": pair["chosen"]} if i in swapped else {})},
                 getattr(pair, "line", None)) for i, pair in enumerate(pairs)]


def best_margin(fraction: float) -> float:
    """The margin that minimizes the Bradley-Terry loss on a pair whose label is wrong with probability
    `fraction` < 0.5: sigma(m) = 1 - fraction, so m = ln((1 - fraction) / fraction). Noise caps the margins."""
    return math.log((1 - fraction) / fraction)


def _short_run_callback():
    """A callback that cancels the trainer's checkpoints and per-step logs: a short run is never resumed (that
    saves ~1 s a run) and one progress bar is all it needs to show."""
    from transformers import TrainerCallback

    class NoCheckpointsNoLogs(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_save = control.should_log = False
    return NoCheckpointsNoLogs()


def train_head(train_pairs: list[dict], profile: Profile, max_steps: int, seed: int = 0, model=None,
               tokenizer=None) -> RewardScorer:
    """A reward model trained on `train_pairs` for `max_steps` steps (-1: the profile's schedule) with `profile`,
    the score head alone (the verifier is switched off, so nothing is fitted after training), as a scorer
    (`scorer.meta` has the training seconds). `model`/`tokenizer` from `load_for_training`, loaded fresh if
    omitted. Nothing is saved, not even checkpoints, and nothing is logged: the trainer shows its progress bar
    and no metric lines (a short run's averaged metrics would read as results)."""
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        result = train_reward_model(train_pairs, None, replace(profile, verifier=False), max_steps=max_steps,
                                    model=model, tokenizer=tokenizer, seed=seed, checkpoint_dir=folder,
                                    callbacks=[_short_run_callback()])
    return RewardScorer(result.model, result.tokenizer, result.meta)


def short_run(train_pairs: list[dict], eval_pairs: list[dict], profile: Profile, max_steps: int,
              seed: int = 0) -> dict:
    """`train_head`, then its `evaluate_pairs` report on `eval_pairs` (accuracy, mean_margin, margins,
    by_category, ...) with the learning rate, the steps and the training seconds."""
    scorer = train_head(train_pairs, profile, max_steps, seed)
    return {**evaluate_pairs(scorer, eval_pairs), "learning_rate": profile.learning_rate, "steps": max_steps,
            "train_seconds": scorer.meta["train_seconds"]}
