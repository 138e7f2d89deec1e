import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nbhelpers.formatting import Rendered
from nbhelpers.modeling import load_for_training
from nbhelpers.scoring import RewardScorer

from helpers import make_pairs

ROOT = Path(__file__).resolve().parents[1]


def mixed(n=16):
    pairs = make_pairs(n, seed=3)
    prompts = [p["prompt"] for p in pairs]
    responses = [p["chosen"] + " and again" * (7 * i % 23) if i % 3 else p["rejected"] for i, p in enumerate(pairs)]
    return prompts, responses


def test_batched_equals_one_at_a_time_with_small_budget(tiny_profile):
    model, tok = load_for_training(tiny_profile, [], device="cpu")
    scorer = RewardScorer(model.eval(), tok, token_budget=160, max_batch=8, use_verifier=False)
    prompts, responses = mixed()
    batched = scorer.head_batch(prompts, responses)
    assert scorer.last_stats["batches"] > 3, "the small budget must split the input into several batches"
    single = [scorer.head_batch([p], [r])[0] for p, r in zip(prompts, responses)]
    assert max(abs(a - b) for a, b in zip(batched, single)) <= 1e-5
    # original order: scoring a permutation permutes the rewards
    perm = list(reversed(range(len(prompts))))
    again = scorer.head_batch([prompts[i] for i in perm], [responses[i] for i in perm])
    assert max(abs(again[k] - batched[i]) for k, i in enumerate(perm)) <= 1e-5


class SumModel(torch.nn.Module):
    """Reward = sum of the real token ids; records the shapes it is called with."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.shapes = []

    def forward(self, input_ids, attention_mask):
        self.shapes.append(tuple(input_ids.shape))
        return type("Out", (), {"logits": (input_ids * attention_mask).sum(1, keepdim=True).float()})


class IdsScorer(RewardScorer):
    def render(self, prompt, response):
        return Rendered(text="", ids=list(response))


def test_padding_stats_and_order_on_hand_made_case():
    model = SumModel()
    tok = type("Tok", (), {"pad_token_id": 0})()
    scorer = IdsScorer(model, tok, token_budget=8, max_batch=4, use_verifier=False)
    seqs = [[1, 1], [2, 2, 2, 2, 2], [3, 3, 3], [4, 4, 4, 4]]      # lengths 2, 5, 3, 4
    rewards = scorer.head_batch([""] * 4, seqs)
    assert rewards == [2.0, 10.0, 9.0, 16.0]                       # caller's order
    # sorted lengths 2,3 | 4 | 5 (2x4 and 2x5 exceed the budget of 8 tokens)
    assert model.shapes == [(2, 3), (1, 4), (1, 5)]
    assert scorer.last_stats == {"real_tokens": 14, "processed_tokens": 15, "batches": 3, "cut": 0}


@pytest.mark.slow
def test_bench_scoring_runs_and_prints_json_last_line():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_scoring.py"), "--n", "60", "--repeats", "1"],
                         capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("speedup", "speedup_vs_batch", "padding_efficiency", "max_abs_diff"):
        assert isinstance(report[key], float)
    assert report["n"] == 60 and report["max_abs_diff"] <= 1e-5
    assert 0 < report["padding_efficiency"] <= 1
