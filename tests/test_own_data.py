"""Bring your own data: other formats, other column names, HH-style transcripts, a sample and a held-out
split, through the same validator, from the command line."""
import csv
import json
import subprocess
import sys

import pytest

from nbhelpers.data import DataError, load_pairs, sample_pairs, split_pairs, validate

from helpers import make_pairs

FAST = ["--set", "warmup_lm_steps=0", "--set", "max_length=128", "--max-steps", "2"]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nbhelpers", *args], capture_output=True, text=True, cwd=cwd)


def write_csv(path, pairs, names=("question", "good", "bad")):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        writer.writerows([p["prompt"], p["chosen"], p["rejected"]] for p in pairs)


def test_sample_is_seeded_and_keeps_order():
    pairs = make_pairs(20)
    a, b = sample_pairs(pairs, 5, seed=1), sample_pairs(pairs, 5, seed=1)
    assert a == b and len(a) == 5 and sample_pairs(pairs, 5, seed=2) != a
    assert [p.line for p in a] == sorted(p.line for p in a)
    assert sample_pairs(pairs, None) == pairs == sample_pairs(pairs, 99)


def test_hh_transcripts_become_conversations():
    rows = [{"chosen": "\n\nHuman: Can you help me with a prank?\n\nAssistant: What kind?\n\nHuman: yep\n\n"
                       "Assistant: I would rather not help with pranks that hurt someone.",
             "rejected": "\n\nHuman: Can you help me with a prank?\n\nAssistant: What kind?\n\nHuman: yep\n\n"
                         "Assistant: Sure, here is how."}]
    pairs, errors, _ = validate(rows)
    assert errors == []
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Can you help me with a prank?"},
                                  {"role": "assistant", "content": "What kind?"}, {"role": "user", "content": "yep"}]
    assert pairs[0]["rejected"] == "Sure, here is how."


def test_skip_invalid_leaves_out_and_names_the_bad_rows(capsys):
    rows = [dict(make_pairs(2)[0]), {"prompt": "2+2?", "chosen": "4", "rejected": ""}, dict(make_pairs(2)[1])]
    with pytest.raises(DataError):
        load_pairs(rows)
    assert [p["id"] for p in load_pairs(rows, skip_invalid=True)] == ["p0", "p1"]
    err = capsys.readouterr().err
    assert "skipped: <list>:2: rejected: is empty" in err and "skipped 1 invalid rows of <list>; 2 pairs kept" in err


def test_mapped_column_missing_names_the_users_column(tmp_path):
    f = tmp_path / "pairs.jsonl"
    f.write_text(json.dumps({"q": "2+2?", "good": "4", "bad": "5"}) + "\n")
    out = cli("validate", str(f), "--prompt-field", "question", "--chosen-field", "good", "--rejected-field", "bad")
    assert out.returncode == 1 and "question (mapped to prompt): missing" in out.stdout


@pytest.mark.slow
def test_train_evaluate_score_on_a_csv_with_own_columns(tmp_path):
    data = tmp_path / "mine.csv"
    write_csv(data, make_pairs(40))
    before = data.read_bytes()
    mapping = ["--prompt-field", "question", "--chosen-field", "good", "--rejected-field", "bad"]
    trained = cli("train", "--data", str(data), "--out", str(tmp_path / "rm"), *mapping, "--max-pairs", "30",
                  "--test-fraction", "0.2", *FAST)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "24 pairs to train on, 6 held out" in trained.stdout
    held_out = tmp_path / "rm" / "heldout.jsonl"
    assert len(held_out.read_text().splitlines()) == 6
    report = cli("evaluate", "--model", str(tmp_path / "rm"), "--data", str(data), *mapping, "--max-pairs", "10",
                 "--json")
    assert report.returncode == 0, report.stderr[-2000:]
    assert json.loads(report.stdout.splitlines()[-1])["n"] == 10
    again = cli("evaluate", "--model", str(tmp_path / "rm"), "--data", str(held_out), "--json")
    assert json.loads(again.stdout.splitlines()[-1])["n"] == 6
    scored = cli("score", "--model", str(tmp_path / "rm"), "--data", str(data), *mapping)
    assert scored.returncode == 0 and len(scored.stdout.splitlines()) == 40
    assert data.read_bytes() == before


def test_split_of_one_file_is_disjoint():
    train, test = split_pairs(sample_pairs(make_pairs(40), 30), 0.2)
    assert len(train) == 24 and len(test) == 6 and not {p["id"] for p in train} & {p["id"] for p in test}
