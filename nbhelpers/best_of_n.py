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
import re
from dataclasses import dataclass

import torch

from .formatting import messages_of
from .thinking import THINK_END, THINK_START, has_closed_thinking
from .warmup import trained_vocab

NS = (1, 2, 4, 8, 16)
PICKS = ("random", "reward model", "head only", "oracle")
NUMBER = re.compile(r"-?\d+")


def final_answer(text: str) -> int | None:
    """The last number after the last `</think>` (in the whole text if there is no thinking block), or None
    (no number, or a `<think>` never closed: the completion stopped before it answered)."""
    _, closed, answer = text.rpartition(THINK_END)
    if not closed and THINK_START in answer:
        return None
    numbers = NUMBER.findall(answer)
    return int(numbers[-1]) if numbers else None


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


@torch.inference_mode()
def top_k_sample(policy, input_ids, attention_mask, max_new_tokens: int, top_k: int, stop_ids, pad_id: int,
                 vocab=None):
    """Token ids generated after each row of a left-padded batch: the distribution of
    `policy.generate(do_sample=True, top_k=top_k)` at temperature 1, drawn among the `top_k` logits only
    (`generate` draws from the whole vocabulary, 152k entries per token for Qwen3: most of its time on a CPU).
    `vocab` (token ids) limits the logits computed to those tokens; None: all. For causal LMs whose logits are
    `hidden state @ output embeddings` (Qwen3, Llama). A row that has produced one of `stop_ids` is padded with
    `pad_id` from then on."""
    from transformers import DynamicCache

    head = policy.get_output_embeddings().weight
    if vocab is not None:
        vocab = torch.as_tensor(vocab, device=head.device)
        head = head[vocab]
    stop_ids = torch.as_tensor(stop_ids, device=input_ids.device)
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    done = torch.zeros(len(input_ids), dtype=torch.bool, device=input_ids.device)
    cache, new = DynamicCache(config=policy.config), []   # filled in place, step by step
    for _ in range(max_new_tokens):
        # the cache goes 4th by position: its keyword is `past_key_values` or, from transformers 5.2x, `cache`
        hidden = policy.get_decoder()(input_ids, attention_mask, positions, cache, use_cache=True).last_hidden_state
        values, candidates = (hidden[:, -1] @ head.T).float().topk(top_k)
        if vocab is not None:
            candidates = vocab[candidates]
        token = candidates.gather(1, torch.multinomial(values.softmax(-1), 1)).squeeze(1).masked_fill(done, pad_id)
        new.append(token)
        done |= torch.isin(token, stop_ids)
        if done.all():
            break
        input_ids, positions = token[:, None], positions[:, -1:] + 1
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(token), 1)], dim=1)
    return torch.stack(new, dim=1)


def sample_completions(policy, tokenizer, prompts, n: int, max_new_tokens: int = 96, top_k: int = 20,
                       seed: int = 0) -> list[list[str]]:
    """`n` completions per prompt, sampled with the policy's chat template and `top_k` (`top_k_sample`), all
    in one left-padded batch; seeded, so the same call gives the same completions.

    A warmed-up body (the `tiny` policy) draws only among the tokens its warm-up trained (`trained_vocab`):
    the other embedding rows are random, and together they hold about 2e-6 of the top-20 probability per
    token (measured on test prompts), while skipping their 151,674 logits makes sampling about 5x faster
    (256 completions of up to 96 tokens: 8 s against 45 s on one CPU thread; `generate`: 179 s).
    """
    texts = [tokenizer.apply_chat_template(messages_of(p), add_generation_prompt=True, tokenize=False) for p in prompts]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(policy.device)
    finally:
        tokenizer.padding_side = side
    stop_ids = policy.generation_config.eos_token_id
    rows = {name: batch[name].repeat_interleave(n, 0) for name in ("input_ids", "attention_mask")}
    torch.manual_seed(seed)
    ids = top_k_sample(policy, rows["input_ids"], rows["attention_mask"], max_new_tokens, top_k,
                       stop_ids if isinstance(stop_ids, list) else [stop_ids], tokenizer.pad_token_id,
                       vocab=trained_vocab(policy))
    decoded = tokenizer.batch_decode(ids, skip_special_tokens=True)
    return [decoded[i * n:(i + 1) * n] for i in range(len(prompts))]


def best_of_n(policy, tokenizer, scorer, pairs, ns=NS, max_new_tokens: int = 96, top_k: int = 20,
              seed: int = 0) -> tuple[BestOfN, list[list[str]]]:
    """Best-of-N on `pairs` (their prompts; gold = the final answer of each `chosen`): sample max(ns)
    completions per prompt once, score them with `scorer` and its head only, and compare the picks
    (`pick_metrics`). Returns (the metrics, the completions per prompt)."""
    prompts = [p["prompt"] for p in pairs]
    completions = sample_completions(policy, tokenizer, prompts, max(ns), max_new_tokens, top_k, seed)
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
        ax.legend(fontsize=8)
    left.set(xlabel="N (completions sampled per prompt)", ylabel="gold accuracy of the pick (higher is better)",
             title=f"Best-of-N on {result.prompts} prompts")
    right.set(xlabel="N (completions sampled per prompt)", ylabel="share with closed thinking (higher is better)",
              title="Does the pick close its thinking?")
    return _finish(fig, save)
