"""Best-of-N sampling: how reward models are used (and judged) at inference time.

Sample N completions per prompt from a policy, keep the one a selector prefers, and check its final
answer against the gold one. Selectors compared, for each N:

* random        a uniform pick: its expected accuracy is the fraction correct among the N;
* reward model  the completion with the highest `scorer` reward (head + verifier term);
* head only     the highest head-only reward (`scorer.head_only()`): what the verifier term adds;
* oracle        a correct completion if any of the N is correct: the ceiling for any selector.

The `max(ns)` completions of a prompt are sampled once; best-of-N looks at the first N of them, so every N
sees the same samples and the oracle can only rise with N. How much of the gap between random and oracle
a reward model closes is its worth as a selector (RewardBench 2 scores best-of-4 this way).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .grpo import complete
from .thinking import final_answer, has_closed_thinking

NS = (1, 2, 4, 8, 16)
PICKS = ("random", "reward model", "head only", "oracle")


@dataclass
class BestOfN:
    """Per pick (PICKS) and per N (`ns`): the share of prompts whose picked completion has the gold final
    answer (`accuracy`) and closes a non-empty thinking block (`closed_thinking`)."""
    ns: list[int]
    accuracy: dict[str, list[float]]
    closed_thinking: dict[str, list[float]]
    prompts: int

    def gap_closed(self, name: str) -> list[float]:
        """Per N, the share of the gap between a random pick and the oracle that pick `name` closes:
        1 = as good as the oracle, 0 = no better than random, below 0 = worse; NaN where there is no gap."""
        random, oracle = self.accuracy["random"], self.accuracy["oracle"]
        return [(a - r) / (o - r) if o > r else math.nan for a, r, o in zip(self.accuracy[name], random, oracle)]

    def table(self) -> str:
        """One row per N: each pick's gold accuracy, and in brackets its share with closed thinking."""
        lines = [f"gold accuracy (share with closed thinking) of the pick, {self.prompts} prompts",
                 f"{'N':>3s}" + "".join(f"{name:>21s}" for name in PICKS)]
        for k, n in enumerate(self.ns):
            lines.append(f"{n:3d}" + "".join(f"{self.accuracy[p][k]:14.3f} ({self.closed_thinking[p][k]:.2f})"
                                             for p in PICKS))
        return "\n".join(lines)


def pick_metrics(correct, closed, rewards: dict[str, list[list[float]]], ns=NS) -> BestOfN:
    """Best-of-N metrics from per-prompt lists (one entry per sampled completion, in sampling order):
    `correct` and `closed` (booleans) and, per selector name in `rewards`, the rewards. Best-of-N uses the
    first N samples of each prompt; a tie goes to the earlier sample. The oracle picks the first correct
    sample (the first sample if none is correct)."""
    ns = list(ns)
    if not correct or any(len(c) < max(ns) for c in correct):
        raise ValueError(f"every prompt needs at least max(ns) = {max(ns)} samples")
    mean = lambda values: sum(values) / len(values)
    accuracy = {name: [] for name in PICKS}
    thinking = {name: [] for name in PICKS}
    for n in ns:
        picks = {name: [max(range(n), key=lambda j: (r[j], -j)) for r in rewards[name]]
                 for name in ("reward model", "head only")}
        picks["oracle"] = [next((j for j in range(n) if c[j]), 0) for c in correct]
        for name, chosen in picks.items():
            accuracy[name].append(mean([c[j] for c, j in zip(correct, chosen)]))
            thinking[name].append(mean([t[j] for t, j in zip(closed, chosen)]))
        accuracy["random"].append(mean([mean(c[:n]) for c in correct]))
        thinking["random"].append(mean([mean(t[:n]) for t in closed]))
    return BestOfN(ns, accuracy, thinking, len(correct))


def best_of_n(policy, tokenizer, scorer, pairs, ns=NS, max_new_tokens: int = 96, top_k: int = 20,
              seed: int = 0) -> tuple[BestOfN, list[list[str]]]:
    """Best-of-N on `pairs` (their prompts; gold = the final answer of each `chosen`): sample max(ns)
    completions per prompt once, score them with `scorer` and its head only, and compare the picks
    (`pick_metrics`). Returns (the metrics, the completions per prompt)."""
    prompts = [p["prompt"] for p in pairs]
    completions = complete(policy, tokenizer, prompts, max_new_tokens, max(ns), top_k, seed)
    flat_prompts = [p for p, cs in zip(prompts, completions) for _ in cs]
    flat = [c for cs in completions for c in cs]
    per_prompt = lambda values: [values[i:i + max(ns)] for i in range(0, len(values), max(ns))]
    rewards = {"reward model": per_prompt(scorer.score_batch(flat_prompts, flat)),
               "head only": per_prompt(scorer.head_only().score_batch(flat_prompts, flat))}
    gold = [final_answer(p["chosen"]) for p in pairs]
    correct = [[final_answer(c) == g for c in cs] for g, cs in zip(gold, completions)]
    closed = [[has_closed_thinking(c) for c in cs] for cs in completions]
    return pick_metrics(correct, closed, rewards, ns), completions


def plot_best_of_n(result: BestOfN, save=None):
    """Gold accuracy of each pick against N (log2 axis), with the share that closes its thinking."""
    import matplotlib.pyplot as plt

    from .plots import _finish

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    styles = {"random": "o--", "reward model": "o-", "head only": "s-", "oracle": "^:"}
    for name in PICKS:
        left.plot(result.ns, result.accuracy[name], styles[name], label=name)
        right.plot(result.ns, result.closed_thinking[name], styles[name], label=name)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(result.ns, [str(n) for n in result.ns])
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8, loc="lower right")   # the curves sit high: the lower right stays clear
    left.set(xlabel="N (completions sampled per prompt)", ylabel="gold accuracy of the pick (higher is better)",
             title=f"Best-of-N on {result.prompts} prompts")
    right.set(xlabel="N (completions sampled per prompt)", ylabel="share with closed thinking (higher is better)",
              title="Does the pick close its thinking?")
    return _finish(fig, save)
