"""The calculator check: written equations recomputed; right ones, and ones it cannot read, cost nothing."""
import pytest

from nbhelpers.calculator import calculator_check, equations, evaluate
from nbhelpers.data import load_pairs
from nbhelpers.scoring import RewardScorer
from nbhelpers.paths import DATA_DIR


@pytest.mark.parametrize("text, found, check", [
    ("He sprints 3*3=9 times", [("3*3", "9")], 0),
    ("He sprints 3*3=11 times", [("3*3", "11")], -1),
    ("80,000+50,000=$130,000", [("80,000+50,000", "$130,000")], 0),
    ("80,000+50,000=$129,990 and 2 x 4 = 9.", [("80,000+50,000", "$129,990"), ("2 x 4", "9")], -2),
    ("So 59 - 38 = 20.\nOnes: 8 + 7 = 15, carry 1.", [("59 - 38", "20"), ("8 + 7", "15")], -1),
    ("2*(3+4)=15", [("2*(3+4)", "15")], -1),
    ("12 ÷ 4 = 3 and 12 ÷ 4 = 4", [("12 ÷ 4", "3"), ("12 ÷ 4", "4")], -1),
    ("10/3 = 3.33 and 7/2 = 3 boxes", [("10/3", "3.33"), ("7/2", "3")], 0),   # rounded or cut to what is written
    ("1/3 = 0.3", [("1/3", "0.3")], 0),
    ("1/3 = 0.4", [("1/3", "0.4")], 0),    # rounded up (7/2 = 4 boxes to hold them all)
    ("1/3 = 0.5", [("1/3", "0.5")], -1),
])
def test_equations_are_found_and_recomputed(text, found, check):
    assert equations(text) == found
    assert calculator_check(text) == check


@pytest.mark.parametrize("text", [
    "James slept 9 hours * 2/3 = 6 hours.",     # continues an expression cut by a word: not "2/3 = 6"
    "40 minutes is 40/60 = 2/3 of an hour.",     # the result goes on: not "40/60 = 2"
    "3 + 4 = 7 + 2 = 10",                        # a chain: neither half stands alone
    "1 1/2 * 4 = 7",                             # a mixed number
    "20% * 50 = 11", "5 - 8 = -3", "It is 5/0 = 3", "The answer is 18.", "",
])
def test_what_it_cannot_read_costs_nothing(text):
    assert calculator_check(text) == 0


def test_evaluate_is_plain_arithmetic_only():
    assert evaluate("2 x (3 + 4)") == 14 and evaluate("$1,200 / 4") == 300
    assert evaluate("__import__('os')") is None and evaluate("2 ** 3") is None and evaluate("(2 + 3") is None


@pytest.mark.parametrize("name", ["train", "test", "test_range"])
def test_no_correct_answer_of_the_shipped_data_is_flagged_and_wrong_steps_are(name):
    pairs = load_pairs(DATA_DIR / "thinking_prefs" / f"{name}.jsonl")
    assert [p["id"] for p in pairs if calculator_check(p["chosen"]) != 0] == []
    wrong_step = [p for p in pairs if p["category"] == "wrong_step"]   # the rest say it in words: the body's part
    assert sum(calculator_check(p["rejected"]) < 0 for p in wrong_step) >= 0.6 * len(wrong_step)


def test_the_reward_adds_the_weighted_check(tiny_profile):
    from nbhelpers.modeling import load_for_training
    model, tok = load_for_training(tiny_profile, [])
    weights = {"head_weight": 0.0, "thinking_weight": 0.0, "answer_weight": 0.0, "calculator_weight": 2.0}
    scorer = RewardScorer(model.eval(), tok, {"verifier": weights})
    texts = ["<think>\n3 * 3 = 9.\n</think>\n\nThe answer is 9.", "<think>\n3 * 3 = 11. 2 + 2 = 5.\n</think>\n\n11"]
    assert scorer.score_batch(["Q"] * 2, texts) == [0.0, -4.0]
    old = RewardScorer(model.eval(), tok, {"verifier": {**weights, "calculator_weight": 1.0}})
    del old.verifier["calculator_weight"]                   # a folder saved before the calculator term
    assert old.score_batch(["Q"] * 2, texts) == [0.0, 0.0]
