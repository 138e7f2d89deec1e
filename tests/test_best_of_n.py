"""Best-of-N with the reward model: the answer parser, the pick metrics on a hand-made case, and a tiny real run."""

import math

import pytest
import torch

from nbhelpers import best_of_n
from nbhelpers.best_of_n import PICKS, pick_metrics
from nbhelpers.bodies import body_path
from nbhelpers.grpo import complete, load_policy
from nbhelpers.modeling import load_for_training
from nbhelpers.profiles import get_profile
from nbhelpers.scoring import RewardScorer
from nbhelpers.thinking import final_answer


def test_final_answer_reads_the_last_number_after_the_thinking():
    assert final_answer("<think>\nOnes: 5 + 7 = 12.\n</think>\n\nThe answer is 42.") == 42
    assert final_answer("<think>\n6 - 9 = -3\n</think>\n\nSo the result is -3.") == -3
    assert final_answer("<think>\nsay 7\n</think>\n\nAnswer: 12, not 7 or 3") == 3      # the last number
    assert final_answer("The answer is 42.") == 42                                        # no thinking block
    assert final_answer("<think>\nTens: 10 + 20 = 30") is None                            # never answered
    assert final_answer("<think>\n1 + 1 = 2\n</think>\n\nI do not know.") is None


def test_pick_metrics_on_a_hand_made_case():
    correct = [[False, True, False, True], [False, False, False, False]]
    closed = [[True, True, False, True], [False, True, True, True]]
    rewards = {"reward model": [[0, 2, 1, -1], [1, 0, 0, 5]],
               "head only": [[3, 0, 1, 0], [0, 0, 0, 0]]}        # a tie goes to the earlier sample
    got = pick_metrics(correct, closed, rewards, ns=(1, 2, 4))
    assert got.ns == [1, 2, 4] and got.prompts == 2
    assert got.accuracy == {"random": [0.0, 0.25, 0.25], "reward model": [0.0, 0.5, 0.5],
                            "head only": [0.0, 0.0, 0.0], "oracle": [0.0, 0.5, 0.5]}
    assert got.closed_thinking == {"random": [0.5, 0.75, 0.75], "reward model": [0.5, 0.5, 1.0],
                                   "head only": [0.5, 0.5, 0.5], "oracle": [0.5, 0.5, 0.5]}
    assert got.gap_closed("reward model")[1:] == [1.0, 1.0]
    assert got.gap_closed("head only")[1:] == [-1.0, -1.0]               # worse than a random pick
    assert math.isnan(got.gap_closed("oracle")[0])                        # N = 1: no gap to close
    assert all(name in got.table() for name in PICKS)
    with pytest.raises(ValueError, match="max"):
        pick_metrics(correct, closed, rewards, ns=(1, 8))


@pytest.fixture(scope="module")
def policy():
    return load_policy(body_path(get_profile("tiny")), device="cpu", trained_vocab_only=True)


@pytest.fixture(scope="module")
def scorer(tiny_profile):
    torch.manual_seed(0)
    model, tokenizer = load_for_training(tiny_profile, [], device="cpu")
    verifier = {"head_weight": 1.0, "thinking_weight": 2.0, "answer_weight": 3.0}
    return RewardScorer(model.eval(), tokenizer, meta={"verifier": verifier})


def test_sampling_is_seeded_and_keeps_the_tokenizer(policy):
    model, tokenizer = policy
    prompts = ["Evaluate 15 + 27.", "How much is 66 minus 34?"]
    first = complete(model, tokenizer, prompts, 16, n=3, top_k=20, seed=1)
    assert [len(c) for c in first] == [3, 3] and all(isinstance(t, str) for c in first for t in c)
    assert complete(model, tokenizer, prompts, 16, n=3, top_k=20, seed=1) == first
    assert complete(model, tokenizer, prompts, 16, n=3, top_k=20, seed=2) != first
    assert tokenizer.padding_side == "right"


def test_best_of_n_runs_end_to_end(policy, scorer, tmp_path):
    pairs = [{"prompt": "Evaluate 15 + 27.", "chosen": "<think>\n15 + 27 = 42.\n</think>\n\nThe answer is 42."},
             {"prompt": "How much is 66 minus 34?", "chosen": "The answer is 32."}]
    result, completions = best_of_n.best_of_n(*policy, scorer, pairs, ns=(1, 2, 4), max_new_tokens=48)
    assert [len(c) for c in completions] == [4, 4] and result.prompts == 2
    for name in PICKS:
        assert len(result.accuracy[name]) == len(result.closed_thinking[name]) == 3
        assert all(0.0 <= v <= 1.0 for v in result.accuracy[name] + result.closed_thinking[name])
    oracle = result.accuracy["oracle"]
    assert oracle == sorted(oracle)                                           # more samples never hurt the oracle
    for name in PICKS:
        assert all(o >= a for o, a in zip(oracle, result.accuracy[name]))
        assert result.accuracy[name][0] == oracle[0]                          # N = 1: every pick is the first sample
        assert result.closed_thinking[name][0] == result.closed_thinking["random"][0]
    # the wiring: gold from each chosen, rewards and picks per prompt, recomputed here from the completions
    correct = [[final_answer(c) == final_answer(p["chosen"]) for c in cs] for p, cs in zip(pairs, completions)]
    assert oracle[-1] == sum(map(any, correct)) / 2
    assert result.accuracy["random"][-1] == pytest.approx(sum(sum(c) / 4 for c in correct) / 2)
    picked = []
    for p, cs, ok in zip(pairs, completions, correct):
        rewards = scorer.score_batch([p["prompt"]] * 4, cs)
        picked.append(ok[rewards.index(max(rewards))])
    assert result.accuracy["reward model"][-1] == sum(picked) / 2
    best_of_n.plot_best_of_n(result, save=tmp_path / "bon.png")
    assert (tmp_path / "bon.png").stat().st_size > 0
