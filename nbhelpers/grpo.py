"""Reward functions for TRL's GRPOTrainer and RLOOTrainer.

TRL calls every reward function as `fn(prompts=..., completions=..., completion_ids=...,
trainer_state=..., log_extra=..., log_metric=..., **dataset_columns)`, so a function must
take `**kwargs` (the seed's `reward_fn(completions, prompts)` raises TypeError). It returns
one float per completion. GRPO already standardizes rewards within each group of
completions of a prompt, so extra normalization mostly matters for RLOO/PPO, for combining
several reward functions on one scale, or for clipping outliers.
"""
from __future__ import annotations

import math

from .formatting import as_text, prompt_text
from .thinking import has_closed_thinking


def make_reward_fn(scorer, normalize: bool = False, clip: float | None = None, fallback: float = 0.0):
    """A TRL reward function backed by `scorer` (a RewardScorer or EnsembleScorer).

    Accepts plain or conversational prompts/completions; never returns NaN/inf (non-finite
    rewards become `fallback`). `normalize` applies the scorer's saved normalizer; `clip`
    bounds the reward to [-clip, clip].
    """
    if not hasattr(scorer, "score_batch"):
        raise TypeError(f"make_reward_fn needs a scorer with score_batch(), got {type(scorer).__name__}; "
                        "build one with RewardScorer.from_folder(DIR).")
    norm = getattr(scorer, "normalizer", None) if normalize else None
    if normalize and norm is None:
        raise ValueError("normalize=True needs a fitted normalizer: call scorer.fit_normalizer(...) first.")

    def reward_fn(completions, prompts=None, **kwargs) -> list[float]:
        if isinstance(completions, str):
            raise TypeError("completions must be a list (one entry per completion), not a single string.")
        texts = [as_text(c) for c in completions]
        if prompts is None:
            prompts = [""] * len(texts)
        if len(prompts) != len(texts):
            raise ValueError(f"got {len(prompts)} prompts for {len(texts)} completions; they must match.")
        raw = scorer.raw_batch([prompt_text(p) for p in prompts], texts) if hasattr(scorer, "raw_batch") \
            else scorer.score_batch([prompt_text(p) for p in prompts], texts)
        out = []
        for r in raw:
            r = norm(r) if norm else r
            if clip is not None:
                r = max(-clip, min(clip, r))
            out.append(float(r) if math.isfinite(r) else fallback)
        return out

    reward_fn.__name__ = "reward_model"
    return reward_fn


def think_format_reward(completions, **kwargs) -> list[float]:
    """1.0 if a completion closes a non-empty thinking block and then answers, else 0.0."""
    return [1.0 if has_closed_thinking(as_text(c)) else 0.0 for c in completions]
