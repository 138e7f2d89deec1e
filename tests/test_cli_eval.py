import json
import math
import subprocess
import sys

from nbhelpers.evaluation import calibration, correlation, evaluate_pairs
from nbhelpers.verifier import fit_weights


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nbhelpers", *args], capture_output=True, text=True, cwd=cwd)


def test_validate_good_file_exits_0(tmp_path):
    f = tmp_path / "ok.jsonl"
    f.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    out = run_cli("validate", str(f))
    assert out.returncode == 0 and "1 valid pairs" in out.stdout


def test_validate_bad_file_exits_1_one_line_per_problem_no_traceback(tmp_path):
    f = tmp_path / "bad.jsonl"
    lines = [json.dumps({"prompt": "p", "chosen": "a", "rejected": "a"}), "{not json",
             json.dumps({"prompt": "p", "chosen": "", "rejected": "b"})]
    f.write_text("\n".join(lines) + "\n")
    before = f.read_bytes()
    out = run_cli("validate", str(f))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [f"{f}:1: rejected: is identical to chosen; a preference pair needs two different responses",
                                       out.stdout.splitlines()[1], f"{f}:3: chosen: is empty"]
    assert out.stdout.splitlines()[1].startswith(f"{f}:2: json: ")
    assert "Traceback" not in out.stdout + out.stderr
    assert f.read_bytes() == before


def test_validate_missing_file(tmp_path):
    out = run_cli("validate", str(tmp_path / "nope.jsonl"))
    assert out.returncode == 1 and out.stdout.startswith(f"{tmp_path / 'nope.jsonl'}:0: file: ")


def test_unknown_profile_is_a_clear_error(tmp_path):
    f = tmp_path / "ok.jsonl"
    f.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    out = run_cli("train", "--data", str(f), "--out", str(tmp_path / "m"), "--profile", "nope")
    assert out.returncode == 1 and "Unknown profile 'nope'" in out.stderr and "tiny" in out.stderr
    assert "Traceback" not in out.stderr


def test_evaluate_missing_model_folder(tmp_path):
    f = tmp_path / "ok.jsonl"
    f.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    out = run_cli("evaluate", "--model", str(tmp_path / "none"), "--data", str(f), "--json")
    assert out.returncode == 1 and "does not exist" in out.stderr and out.stdout == ""


class FakeScorer:
    """Reward = number of 'good' words: a case whose metrics are known by hand."""
    verifier = None

    def score_pairs(self, pairs):
        return [(p["chosen"].count("good"), p["rejected"].count("good")) for p in pairs]


def test_evaluate_pairs_on_a_hand_made_case():
    pairs = [
        {"prompt": "q", "chosen": "good good", "rejected": "bad", "category": "a"},            # margin 2
        {"prompt": "q", "chosen": "good", "rejected": "bad bad bad bad", "category": "a"},     # margin 1, rejected longer
        {"prompt": "q", "chosen": "meh", "rejected": "good", "category": "b"},                 # margin -1, rejected longer
        {"prompt": "q", "chosen": "good", "rejected": "good", "category": "b"},                # margin 0 counts as wrong
    ]
    report = evaluate_pairs(FakeScorer(), pairs)
    assert report["n"] == 4 and report["accuracy"] == 0.5 and report["mean_margin"] == 0.5
    assert report["by_category"]["a"] == {"n": 2, "accuracy": 1.0, "ties": 0.0, "mean_margin": 1.5}
    assert report["by_category"]["b"] == {"n": 2, "accuracy": 0.0, "ties": 0.5, "mean_margin": -0.5}
    assert report["ties"] == 0.25
    assert report["accuracy_rejected_longer"] == 0.5   # pairs 2 (right) and 3 ("good" > "meh") have longer rejected
    assert report["margins"] == [2, 1, -1, 0]
    assert math.isclose(correlation([1, 2, 3], [2, 4, 6]), 1.0)
    bins = calibration([2, 1, -1, 0], n_bins=5)
    assert sum(b["n"] for b in bins) == 4
    top = [b for b in bins if b["lo"] <= 1 / (1 + math.exp(-2)) < b["hi"]][0]
    assert top["observed"] == 1.0


def test_fit_weights_prefers_the_informative_feature():
    head = [1.0, -1.0, 1.0, -1.0] * 10        # right half the time
    thinking = [0.5, 0.4, 0.6, 0.3] * 10      # always right
    answer = [0.0, 0.0, 0.0, 0.0] * 10        # no information
    calculator = [0.0, 0.0, 0.0, 0.0] * 10    # no information
    w = fit_weights(list(zip(head, thinking, answer, calculator)))
    assert set(w) == {"head_weight", "thinking_weight", "answer_weight", "calculator_weight"}
    assert w["thinking_weight"] > 0 and abs(w["head_weight"]) < w["thinking_weight"] * 0.5
    assert w["answer_weight"] == 0 and w["calculator_weight"] == 0
