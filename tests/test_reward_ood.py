"""The default reward model on reasoning it was not trained on (slow: trains the default model once, ~1 min,
unless `make test` hands it the one notebook 02 has just trained).

The solutions here are word problems in wording the kit's generators never use: 24 written by hand
(data/word_problems.jsonl) and 36 from the templates below (their story style is also in the body's warm-up
corpus, generate/corpus.py; the hand-written ones are not). Every equation in them is checked
first, so "correct thinking" is a fact, not a hope. The lesson the kit teaches must hold on them:
taking the correct thinking out of a response must not raise its reward, and one wrong written result must
lower it.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from helpers import EQUATION, equation_checks
from nbhelpers.data import load_pairs
from nbhelpers.evaluation import thinking_removal
from nbhelpers.paths import TRAIN_FILE
from nbhelpers.profiles import get_profile
from nbhelpers.scoring import RewardScorer
from nbhelpers.training import train_reward_model

HANDWRITTEN = Path(__file__).resolve().parents[1] / "data" / "word_problems.jsonl"


def _values(rng: random.Random) -> dict:
    a, b = rng.randint(3, 12), rng.randint(3, 9)
    return {"a": a, "b": b, "ab": a * b, "s": a + b, "c": rng.randint(2, 9)}


def _rolls(v, rng):
    v["c"] = rng.randint(2, v["ab"] - 1)
    return v["ab"] - v["c"]


def _shares(v, rng):
    v["q"], v["a"] = v["a"], v["a"] * v["b"]    # a whole share
    return v["q"] + v["c"]


def _jars(v, rng):
    v["a"] = v["b"] + rng.randint(10, 60)
    v["d"] = v["a"] - v["b"]
    return v["d"] + v["c"]


def _change(v, rng):
    v["c"] = v["ab"] + rng.randint(1, 20)
    return v["c"] - v["ab"]


# (prompt, thinking lines, answer line, rule that sets the values and returns the result r)
TEMPLATES = (
    ("A baker bakes {a} trays of {b} rolls and sells {c} rolls. How many rolls are left?",
     ["The baker has {a} * {b} = {ab} rolls.", "Selling {c} leaves {ab} - {c} = {r} rolls."], "{r} rolls are left.", _rolls),
    ("A hiker walks {a} kilometres in the morning and {b} in the afternoon, {c} days in a row. How far does she walk?",
     ["Each day she walks {a} + {b} = {s} kilometres.", "Over {c} days that is {s} * {c} = {r} kilometres."],
     "She walks {r} kilometres.", lambda v, rng: v["s"] * v["c"]),
    ("{a} stickers are shared equally among {b} children, and each child then gets {c} more. How many does each child have?",
     ["Each child first gets {a} / {b} = {q} stickers.", "With {c} more, each has {q} + {c} = {r}."],
     "Each child has {r} stickers.", _shares),
    ("A shelf holds {a} jars. {b} jars break and {c} new ones arrive. How many jars are on the shelf?",
     ["After the breakage there are {a} - {b} = {d} jars.", "The delivery makes it {d} + {c} = {r} jars."],
     "There are {r} jars on the shelf.", _jars),
    ("Tom pays ${a} for each of {b} notebooks and hands over ${c}. How much change does he get?",
     ["The notebooks cost {b} * {a} = {ab} dollars.", "His change is {c} - {ab} = {r} dollars."],
     "He gets ${r} in change.", _change),
    ("A train has {a} carriages with {b} seats each; {c} seats are empty. How many passengers are seated?",
     ["The train has {a} * {b} = {ab} seats.", "{ab} - {c} = {r} seats are taken."], "{r} passengers are seated.", _rolls),
)


def templated(n_per_template: int = 6, seed: int = 7) -> list[dict]:
    """Solutions from TEMPLATES with seeded numbers (always correct: the rule computes each result)."""
    rng = random.Random(seed)
    rows = []
    for prompt, lines, answer, rule in TEMPLATES:
        for _ in range(n_per_template):
            v = _values(rng)
            v["r"] = rule(v, rng)
            think = "\n".join(line.format(**v) for line in lines)
            rows.append({"prompt": prompt.format(**v), "response": f"<think>\n{think}\n</think>\n\n{answer.format(**v)}"})
    return rows


def solutions() -> list[dict]:
    return [json.loads(line) for line in HANDWRITTEN.open()] + templated()


def equation_errors(text: str) -> list[str]:
    return [equation for equation, ok in equation_checks(text) if not ok]


def test_every_solution_is_correct():
    rows = solutions()
    assert len(rows) == 60
    for row in rows:
        assert equation_errors(row["response"]) == [], row
        assert "</think>" in row["response"] and len(equation_checks(row["response"])) >= 1, row
    assert equation_errors("3 * 4 = 13, 8 / 2 = 4") == ["3 * 4 = 13"]    # the checker can fail


@pytest.fixture(scope="module")
def default_scorer(tmp_path_factory):
    """The default reward model as `make run` trains it (shipped training split): notebook 02's folder when
    `make test` has just trained it under nbval (it sets NBHELPERS_TRAINED_DEFAULT), else trained here."""
    pairs, profile = load_pairs(TRAIN_FILE), get_profile("tiny")
    folder = os.environ.get("NBHELPERS_TRAINED_DEFAULT")
    if folder:
        scorer = RewardScorer.from_folder(folder)
        saved_as = json.loads(json.dumps(profile.to_dict()))   # as nbhelpers.json holds it (tuples become lists)
        assert scorer.meta["profile"] == saved_as and scorer.meta["n_train"] == len(pairs), \
            f"{folder} is not the default reward model"
        return scorer
    result = train_reward_model(pairs, None, profile, checkpoint_dir=tmp_path_factory.mktemp("ckpt"))
    return RewardScorer(result.model, result.tokenizer, result.meta)


@pytest.mark.slow
def test_removing_correct_thinking_never_raises_the_reward(default_scorer):
    rows = solutions()
    check = thinking_removal(default_scorer, [r["prompt"] for r in rows], [r["response"] for r in rows])
    assert [(rows[i]["prompt"], check["full"][i], check["bare"][i]) for i in check["raised"]] == []


def one_wrong_result(response: str) -> str:
    """The response with its first equation's result off by one (the rest as written)."""
    m = next(EQUATION.finditer(response))
    result = m.group(6)
    return response[:m.end(6) - len(result)] + str(int(result) + 1) + response[m.end(6):]


@pytest.mark.slow
def test_one_wrong_result_lowers_the_reward(default_scorer):
    rows = solutions()
    prompts, right = [r["prompt"] for r in rows], [r["response"] for r in rows]
    wrong = [one_wrong_result(r) for r in right]
    assert all(equation_errors(w) for w in wrong) and equation_errors(one_wrong_result("2 + 2 = 4.")) == ["2 + 2 = 5"]
    scores = default_scorer.score_batch(prompts * 2, right + wrong)
    assert [(p, r, w) for p, r, w in zip(prompts, scores[:60], scores[60:]) if w >= r] == []
