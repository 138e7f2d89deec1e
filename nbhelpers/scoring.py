"""The reward of a trained reward model, defined in one place: `RewardScorer`.

    raw    = head                                   (the SEQ_CLS score head on the chat-template text)
           | head_weight * head + thinking_weight * thinking_credit + answer_weight * answer_credit
             + calculator_weight * calculator_check
                                                    (if the folder has verifier weights; credits: verifier.py,
                                                     the check: calculator.py)
    reward = clip(normalizer(raw))                  (each part only if set)

on the `part` of the response chosen ("both", "answer" after the last `</think>`, or "thinking"),
every text cut to the profile's `max_length` by the kit's one truncation rule. Scoring, evaluation,
the CLI, the widget, training (the verifier fit) and the GRPO reward function all use it; a variant
(head only, another part, a normalizer, a clip) is `scorer.replace(...)`, sharing the model.

Batches are sorted by length (little padding), cut to a token budget, scored under
`torch.inference_mode`, and returned in the caller's order. Rewards are the same as scoring
one text at a time (checked by a test to 1e-5).
"""
from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from .calculator import calculator_check
from .files import atomic_write_text
from .formatting import pad_right, render
from .modeling import load_reward_model
from .paths import META_FILE
from .thinking import select_part
from .verifier import WEIGHTS, digit_credits, fit_weights

SAVED = "saved"          # RewardScorer(normalizer=SAVED): the normalizer stored in the model folder, if any
VERIFIER_FIT_PAIRS = 512  # training pairs the verifier weights are fitted on (a seeded sample)
TOKEN_BUDGET = 8192       # tokens (padding included) per scoring batch
MAX_BATCH = 64


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
    """The reward of (prompt, response) under a sequence-classification reward model (see module doc)."""

    def __init__(self, model, tokenizer, meta: dict | None = None, part: str = "both", clip: float | None = None,
                 normalizer: Normalizer | str | None = SAVED, use_verifier: bool = True,
                 max_length: int | None = None, token_budget: int = TOKEN_BUDGET, max_batch: int = MAX_BATCH):
        self.model, self.tokenizer, self.meta = model, tokenizer, meta or {}
        self.part, self.clip, self.token_budget, self.max_batch = part, clip, token_budget, max_batch
        # generative verifier weights fitted at training time (see verifier.py), if any
        self.verifier = self.meta.get("verifier") if use_verifier else None
        saved = self.meta.get("normalizer")
        self.normalizer = (Normalizer(**saved) if saved else None) if normalizer == SAVED else normalizer
        self.max_length = max_length or self.meta.get("profile", {}).get("max_length")
        self.device = next(model.parameters()).device
        self.folder: Path | None = None

    @classmethod
    def from_folder(cls, folder, device: str | None = None, **settings) -> "RewardScorer":
        model, tokenizer, meta = load_reward_model(folder, device)
        scorer = cls(model, tokenizer, meta, **settings)
        scorer.folder = Path(folder)
        return scorer

    def replace(self, **settings) -> "RewardScorer":
        """The same model with other settings: part, clip, normalizer, verifier (`use_verifier`)."""
        other = copy.copy(self)
        for name, value in settings.items():
            if name == "use_verifier":
                other.verifier = self.meta.get("verifier") if value else None
            elif name in ("part", "clip", "normalizer", "max_length"):
                setattr(other, name, value)
            else:
                raise TypeError(f"replace() does not know {name!r}; use part, clip, normalizer, use_verifier, max_length")
        return other

    @property
    def name(self) -> str:
        """What this scorer's reward is, for titles and printouts."""
        return "reward model (head + verifier)" if self.verifier else "reward model (head only)"

    def head_only(self) -> "RewardScorer":
        """The trained SEQ_CLS head alone (no verifier term), with the same part, normalizer and clip."""
        return self.replace(use_verifier=False)

    # ---------------------------------------------------------------- the parts
    def _texts(self, responses) -> list:
        return [select_part(r, self.part) if isinstance(r, str) else r for r in responses]

    def render(self, prompt, response):
        """What the head reads (`formatting.render`): the chat-template text of this part, cut to max_length."""
        return render(self.tokenizer, prompt, self._texts([response])[0], self.max_length)

    def encode(self, prompt, response) -> list[int]:
        """Token ids the head reads."""
        return self.render(prompt, response).ids

    def head_batch(self, prompts, responses) -> list[float]:
        """Raw SEQ_CLS head outputs, length-sorted batches under a token budget, original order kept."""
        seen = [self.render(p, r) for p, r in zip(prompts, responses)]
        ids = [s.ids for s in seen]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        rewards = [0.0] * len(ids)
        pad = self.tokenizer.pad_token_id
        start = 0
        # real tokens vs tokens the model processed (padding included), for benchmarks; texts cut to max_length
        self.last_stats = {"real_tokens": sum(map(len, ids)), "processed_tokens": 0, "batches": 0,
                           "cut": sum(1 for s in seen if s.dropped_turns or s.cut_tokens)}
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

    def credit_batch(self, prompts, responses) -> list[tuple[float, float]]:
        """The verifier's (thinking credit, answer credit) of each response: how well the body predicts its digits."""
        return digit_credits(self.model, self.tokenizer, prompts, self._texts(responses), self.max_length)

    def verifier_features(self, prompts, responses) -> list[tuple[float, float, float]]:
        """(thinking credit, answer credit, calculator check) of each response: the verifier's terms. The
        calculator reads the whole text of the part, also what max_length cuts off for the body."""
        checks = [calculator_check(text) for text in self._texts(responses)]
        return [(t, a, c) for (t, a), c in zip(self.credit_batch(prompts, responses), checks)]

    def raw_batch(self, prompts, responses) -> list[float]:
        """Unnormalized rewards: the head, or head + the verifier's terms if the model has verifier weights
        (a folder saved before the calculator term has no calculator_weight: 0)."""
        head = self.head_batch(prompts, responses)
        if not self.verifier:
            return head
        w = [self.verifier.get(name, 0.0) for name in WEIGHTS]
        return [w[0] * h + w[1] * t + w[2] * a + w[3] * c
                for h, (t, a, c) in zip(head, self.verifier_features(prompts, responses))]

    def post(self, reward: float) -> float:
        """Apply the normalizer and the clip, if set."""
        if self.normalizer:
            reward = self.normalizer(reward)
        if self.clip is not None:
            reward = max(-self.clip, min(self.clip, reward))
        return reward

    # ---------------------------------------------------------------- the reward
    def score_batch(self, prompts, responses) -> list[float]:
        return [self.post(r) for r in self.raw_batch(prompts, responses)]

    def score(self, prompt, response) -> float:
        return self.score_batch([prompt], [response])[0]

    def score_pairs(self, pairs: list[dict]) -> list[tuple[float, float]]:
        """(chosen_reward, rejected_reward) per pair, raw (normalization does not change the margin sign)."""
        prompts = [p["prompt"] for p in pairs]
        raw = self.raw_batch(prompts * 2, [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs])
        return list(zip(raw[:len(pairs)], raw[len(pairs):]))

    # ---------------------------------------------------------------- fitted once, saved with the model
    def fit_verifier(self, pairs, max_pairs: int = VERIFIER_FIT_PAIRS, seed: int = 0) -> dict:
        """Head and credit weights fitted on (a seeded sample of) training pairs, as this scorer
        sees them (same part and truncation). Returns the weights to save; the scorer is unchanged."""
        sample = random.Random(seed).sample(list(pairs), min(max_pairs, len(pairs)))
        head = self.head_only().score_pairs(sample)
        prompts = [p["prompt"] for p in sample]
        chosen = self.verifier_features(prompts, [p["chosen"] for p in sample])
        rejected = self.verifier_features(prompts, [p["rejected"] for p in sample])
        margins = [(hc - hr, *(c - r for c, r in zip(fc, fr))) for (hc, hr), fc, fr in zip(head, chosen, rejected)]
        return {**fit_weights(margins), "fitted_on_pairs": len(sample)}

    def fit_normalizer(self, prompts, responses) -> Normalizer:
        """Mean/std of the raw rewards of a reference set; use it with `replace(normalizer=...)`,
        keep it with `save_normalizer`. The scorer itself is unchanged."""
        return Normalizer.fit(self.raw_batch(prompts, responses))

    def save_normalizer(self, normalizer: Normalizer) -> None:
        """Store `normalizer` in the model folder (every later `from_folder` applies it) and use it here."""
        if self.folder is None:
            raise ValueError("this scorer was not loaded from a folder (RewardScorer.from_folder); nothing to save to")
        self.meta["normalizer"] = {"mean": normalizer.mean, "std": normalizer.std}
        atomic_write_text(self.folder / META_FILE, json.dumps(self.meta, indent=2))
        self.normalizer = normalizer


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
