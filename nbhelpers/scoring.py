"""Scoring with a trained reward model: one reward, a batch, pairs; normalization; ensembles.

Batches are sorted by length (little padding), cut to a token budget, scored under
`torch.inference_mode`, and returned in the caller's order. Rewards are the same as scoring
one text at a time (checked by a test to 1e-5).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .formatting import encode, pad_right
from .files import atomic_write_text
from .modeling import META_FILE, load_reward_model
from .thinking import select_part


@dataclass
class Normalizer:
    """Reward standardization fitted once on a reference set, then fixed (unlike per-batch
    z-scores, a completion's normalized reward does not depend on the batch it is in)."""
    mean: float
    std: float

    @classmethod
    def fit(cls, rewards) -> "Normalizer":
        rewards = [float(r) for r in rewards]
        mean = sum(rewards) / len(rewards)
        std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / max(len(rewards) - 1, 1))
        return cls(mean, std or 1.0)

    def __call__(self, reward: float) -> float:
        return (reward - self.mean) / self.std


class RewardScorer:
    """Scores (prompt, response) pairs with a sequence-classification reward model."""

    def __init__(self, model, tokenizer, meta: dict | None = None, part: str = "both",
                 token_budget: int = 8192, max_batch: int = 64, clip: float | None = None,
                 use_verifier: bool = True):
        self.model, self.tokenizer, self.meta = model, tokenizer, meta or {}
        # generative verifier weights fitted at training time (see verifier.py), if any
        self.verifier = self.meta.get("verifier") if use_verifier else None
        self.part, self.token_budget, self.max_batch, self.clip = part, token_budget, max_batch, clip
        norm = self.meta.get("normalizer")
        self.normalizer = Normalizer(**norm) if norm else None
        self.device = next(model.parameters()).device

    @classmethod
    def from_folder(cls, folder, device: str | None = None, **kwargs) -> "RewardScorer":
        model, tokenizer, meta = load_reward_model(folder, device)
        scorer = cls(model, tokenizer, meta, **kwargs)
        scorer.folder = Path(folder)
        return scorer

    @property
    def max_length(self) -> int | None:
        """The profile's max_length: longer texts keep their last max_length tokens."""
        return self.meta.get("profile", {}).get("max_length")

    def encode(self, prompt, response, system=None) -> list[int]:
        return encode(self.tokenizer, prompt, select_part(response, self.part) if isinstance(response, str)
                      else response, system, self.max_length)

    def raw_batch(self, prompts, responses) -> list[float]:
        """Unnormalized rewards: the head, or head + likelihood verifier if the model has one."""
        head = self.head_batch(prompts, responses)
        if not self.verifier:
            return head
        from .verifier import mean_logprobs

        texts = [select_part(r, self.part) if isinstance(r, str) else r for r in responses]
        lm = mean_logprobs(self.model, self.tokenizer, prompts, texts, max_length=self.max_length)
        return [self.verifier["head_weight"] * h + self.verifier["lm_weight"] * l for h, l in zip(head, lm)]

    def head_batch(self, prompts, responses) -> list[float]:
        """Raw SEQ_CLS head outputs, length-sorted batches under a token budget, original order kept."""
        ids = [self.encode(p, r) for p, r in zip(prompts, responses)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        rewards = [0.0] * len(ids)
        pad = self.tokenizer.pad_token_id
        start = 0
        # real tokens vs tokens the model processed (padding included), for benchmarks
        self.last_stats = {"real_tokens": sum(map(len, ids)), "processed_tokens": 0, "batches": 0}
        with torch.inference_mode():
            while start < len(order):
                end = start + 1
                while (end < len(order) and end - start < self.max_batch
                       and (end - start + 1) * len(ids[order[end]]) <= self.token_budget):
                    end += 1
                input_ids, mask = pad_right([ids[i] for i in order[start:end]], pad, self.device)
                self.last_stats["processed_tokens"] += input_ids.numel()
                self.last_stats["batches"] += 1
                logits = self.model(input_ids=input_ids, attention_mask=mask).logits[:, 0].float().cpu()
                for i, value in zip(order[start:end], logits.tolist()):
                    rewards[i] = value
                start = end
        return rewards

    def post(self, reward: float) -> float:
        """Apply the saved normalizer and clipping, if any."""
        if self.normalizer:
            reward = self.normalizer(reward)
        if self.clip is not None:
            reward = max(-self.clip, min(self.clip, reward))
        return reward

    def score_batch(self, prompts, responses) -> list[float]:
        return [self.post(r) for r in self.raw_batch(prompts, responses)]

    def score(self, prompt, response) -> float:
        return self.score_batch([prompt], [response])[0]

    def score_pairs(self, pairs: list[dict]) -> list[tuple[float, float]]:
        """(chosen_reward, rejected_reward) per pair, raw (normalization does not change the margin sign)."""
        prompts = [p["prompt"] for p in pairs]
        raw = self.raw_batch(prompts * 2, [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs])
        return list(zip(raw[:len(pairs)], raw[len(pairs):]))

    def fit_normalizer(self, prompts, responses, save: bool = True) -> Normalizer:
        """Fit mean/std on a reference set; save them in the model folder's metadata."""
        self.normalizer = Normalizer.fit(self.raw_batch(prompts, responses))
        self.meta["normalizer"] = {"mean": self.normalizer.mean, "std": self.normalizer.std}
        if save and getattr(self, "folder", None):
            atomic_write_text(self.folder / META_FILE, json.dumps(self.meta, indent=2))
        return self.normalizer


class EnsembleScorer:
    """Several reward models: reward = mean or min of members; spread = their std (uncertainty)."""

    def __init__(self, scorers, reduce: str = "mean"):
        if reduce not in ("mean", "min"):
            raise ValueError("reduce must be 'mean' or 'min'")
        self.scorers, self.reduce = list(scorers), reduce

    def score_batch_with_spread(self, prompts, responses) -> tuple[list[float], list[float]]:
        columns = list(zip(*[s.score_batch(prompts, responses) for s in self.scorers]))
        combine = min if self.reduce == "min" else (lambda v: sum(v) / len(v))
        spread = [math.sqrt(sum((v - sum(c) / len(c)) ** 2 for v in c) / len(c)) for c in columns]
        return [combine(c) for c in columns], spread

    def score_batch(self, prompts, responses) -> list[float]:
        return self.score_batch_with_spread(prompts, responses)[0]

    def score(self, prompt, response) -> float:
        return self.score_batch([prompt], [response])[0]
