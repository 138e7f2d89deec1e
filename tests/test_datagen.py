"""Invariants of the thinking-quality preference data (nbhelpers.generate.datagen).

The shipped files must equal a fresh generation, and on both splits:

a. every masked line (digit runs -> "#") of a rejected response occurs among the masked lines
   of the chosen responses of the same split: no line template is rejected-only;
b. wrong_step / contradiction pairs differ only in digits, lengths within 2 characters;
c. line rates: for every masked line occurring >= 20 times in a split, (count among rejected
   lines) / (count among chosen lines) is <= 2 (no template leans rejected) and >= 0.5,
   with one narrower rule. Reasoning lines (those that never occur in the rejected responses
   of no_thinking / shallow_thinking, e.g. "Tens: # + # = #.") are absent from 2 of the 5
   categories' rejected responses *by definition*, so their expected ratio over a split is
   3/5 = 0.6 and sampling noise in a 200-pair split pushes it below 0.5 (test split:
   e.g. 21/43). For them the lower bound is 0.4 over the whole split and 0.5 over the pairs of
   the three categories where both responses reason in full. Openers ("I know this one.")
   and answer lines get no exemption: they must be within [0.5, 2] over the whole split;
d. "longer wins" and "shorter wins" each have pairwise accuracy <= 0.7;
e. every equation / running-total / carry step in chosen responses is right and the chosen
   final number is the true answer; rejected wrong_step / contradiction / longer_but_worse
   end at a wrong number (and wrong_step / longer_but_worse contain a wrong step); a
   longer_but_worse rejected response is >= datagen.LONGER_BY characters longer than its chosen;
f. no duplicate pairs, chosen != rejected, no prompt in both splits, determinism;
g. equal category counts, all five categories in every split, test >= 100 pairs; test_range
   (a held-out number range: a 4-digit operand) passes the same checks.
h. line rates within a category: in each category where both responses reason in full
   (wrong_step, contradiction, longer_but_worse), every masked line occurring >= 30 times among
   that category's chosen + rejected lines of a split has a rejected/chosen count ratio in
   [0.5, 2]. Rule (c) over a whole split cannot see a line that leans rejected in one category
   and chosen in others (the old longer_but_worse data: "Let me double-check." in ~77 % of its
   rejected responses and none of its chosen ones, yet within bounds over the split). The
   generator aims at ratios <= ~1.5 (longer_but_worse pads the rejected response with lines the
   chosen one has at similar rates). The count threshold is 30, not 20, because a 40-pair
   category leaves 20-count lines to sampling noise: over 60 generated test / test_range splits
   (seeds 1234-1263) a threshold of 20 fails 6 of them (worst ratio 3.2), 30 fails none (worst 1.83).

The checkers are plain functions; the ``*_detects_*`` tests feed them corrupted data to show
they can fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from nbhelpers import cli
from nbhelpers.generate import datagen

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "thinking_prefs"
SEED = 1234
N = {"train": 500, "test": 40, "test_range": 40}
WRONG_FINAL = ("wrong_step", "contradiction", "longer_but_worse")
FULL = WRONG_FINAL  # the categories in which both responses reason in full


def load(split):
    with open(DATA / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module", params=["train", "test", "test_range"])
def split_rows(request):
    return request.param, load(request.param)


# --------------------------------------------------------------------------- checkers


def mask(text):
    return re.sub(r"\d+", "#", text)


def lines(text):
    return text.split("\n")


def rejected_only_lines(rows):
    chosen = {mask(ln) for r in rows for ln in lines(r["chosen"])}
    return sorted({mask(ln) for r in rows for ln in lines(r["rejected"])} - chosen)


THIN = ("no_thinking", "shallow_thinking")


def _rates(rows, min_count):
    c = Counter(mask(ln) for r in rows for ln in lines(r["chosen"]))
    j = Counter(mask(ln) for r in rows for ln in lines(r["rejected"]))
    for line in set(c) | set(j):
        if c[line] + j[line] >= min_count:
            yield line, c[line], j[line], (j[line] / c[line] if c[line] else float("inf"))


def rate_violations(rows, min_count=20, lo=0.5, hi=2.0, lo_reasoning=0.4):
    """Masked lines whose rejected/chosen count ratio breaks rule (c) (see module docstring)."""
    thin_lines = {mask(ln) for r in rows if r["category"] in THIN for ln in lines(r["rejected"])}
    bad = {}
    for line, c, j, ratio in _rates(rows, min_count):
        low = lo if line in thin_lines else lo_reasoning
        if not low <= ratio <= hi:
            bad[line] = (c, j)
    full = [r for r in rows if r["category"] not in THIN]
    for line, c, j, ratio in _rates(full, min_count):
        if line not in thin_lines and ratio < lo:
            bad[line] = (c, j)
    return bad


def category_rate_violations(rows, min_count=30, lo=0.5, hi=2.0):
    """{(category, masked line): (chosen count, rejected count)} breaking rule (h) (see module docstring)."""
    bad = {}
    for category in FULL:
        for line, c, j, ratio in _rates([r for r in rows if r["category"] == category], min_count):
            if not lo <= ratio <= hi:
                bad[(category, line)] = (c, j)
    return bad


def length_accuracies(rows):
    n = len(rows)
    longer = sum(len(r["chosen"]) > len(r["rejected"]) for r in rows) / n
    shorter = sum(len(r["chosen"]) < len(r["rejected"]) for r in rows) / n
    return longer, shorter


def parse_prompt(prompt, split):
    """Recover (a, op, b) from the prompt via the split's templates."""
    for op, templates in datagen.PROMPT_TEMPLATES[datagen.SPLITS[split]["templates"]].items():
        for t in templates:
            pat = "^" + re.escape(t).replace(r"\{a\}", r"(?P<a>\d+)").replace(r"\{b\}", r"(?P<b>\d+)") + "$"
            m = re.match(pat, prompt)
            if m:
                return int(m["a"]), op, int(m["b"])
    raise AssertionError(f"prompt matches no {split} template: {prompt!r}")


def true_answer(prompt, split):
    a, op, b = parse_prompt(prompt, split)
    return a + b if op == "+" else a - b


def final_number(text):
    return int(re.findall(r"\d+", text.split("</think>")[-1])[-1])


EQ = re.compile(r"(\d+(?:\s*[+-]\s*\d+)+)\s*=\s*(\d+)")
COL_ADD = re.compile(r"^\w+: (\d+) \+ (\d+)(?: \+ (\d+))? = (\d+), carry (\d+)\.$")
COL_SUB = re.compile(r"^\w+: (\d+) - (\d+) = (\d+), borrow (\d+)\.$")


def step_errors(text):
    """Return a list of wrong reasoning steps in ``text`` (empty if all steps check out)."""
    errors = []
    think = text.split("</think>")[0] if "</think>" in text else ""
    carry = None
    running = None
    for ln in lines(think):
        for lhs, rhs in EQ.findall(ln):
            if eval(lhs) != int(rhs):  # only digits, spaces, + and - (regex above)
                errors.append(ln)
        m = re.match(r"^Start at (\d+)\.$", ln)
        if m:
            running = int(m[1])
        m = re.match(r"^(Add|Subtract) (\d+) to get (\d+)\.$", ln)
        if m:
            want = running + int(m[2]) if m[1] == "Add" else running - int(m[2])
            if want != int(m[3]):
                errors.append(ln)
            running = int(m[3])
        m = COL_ADD.match(ln)
        if m:
            x, y, cin, s, cout = (int(g) if g else None for g in m.groups())
            if (cin or 0) != (carry or 0) or cout != s // 10:
                errors.append(ln)
            carry = cout
        m = COL_SUB.match(ln)
        if m:
            top, bot, d, borrow = map(int, m.groups())
            # top is the digit minus the borrow-in, plus 10 if this column borrows
            if borrow not in (0, 1) or (top < 10 * borrow) or (borrow == 0 and top < bot):
                errors.append(ln)
        m = re.match(r"^Bring down the carry (\d+)\.$", ln)
        if m and int(m[1]) != carry:
            errors.append(ln)
    return errors


def column_sub_borrow_errors(text, prompt_a):
    """Check borrow chains of column subtraction against the digits of a."""
    rows = [COL_SUB.match(ln) for ln in lines(text)]
    rows = [m for m in rows if m]
    errors, borrow_in = [], 0
    digits = [int(c) for c in reversed(str(prompt_a))]
    for k, m in enumerate(rows):
        top, bot, d, borrow = map(int, m.groups())
        # k beyond the digits of a: more column lines than columns (a line said twice)
        if k >= len(digits) or top != digits[k] - borrow_in + 10 * borrow:
            errors.append(m[0])
        borrow_in = borrow
    return errors


def prompt_numbers(prompt):
    return [int(x) for x in re.findall(r"\d+", prompt)]


# --------------------------------------------------------------------------- tests


def test_shipped_files_are_deterministic_regeneration(tmp_path):
    datagen.write_splits(tmp_path, N["train"], N["test"], SEED)
    # `python -m nbhelpers datagen` with its defaults (but --out) writes the same files
    assert cli.main(["datagen", "--out", str(tmp_path / "cli")]) == 0
    for split in datagen.SPLITS:
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (DATA / f"{split}.jsonl").read_bytes()
        assert (tmp_path / "cli" / f"{split}.jsonl").read_bytes() == (DATA / f"{split}.jsonl").read_bytes()
    # and generating twice in-process gives identical results
    assert datagen.make_pairs(5, 7, "test") == datagen.make_pairs(5, 7, "test")
    assert datagen.make_pairs(5, 7, "test") != datagen.make_pairs(5, 8, "test")


def test_schema_ids_and_counts(split_rows):
    split, rows = split_rows
    for i, r in enumerate(rows):
        assert list(r) == ["id", "category", "prompt", "chosen", "rejected"]
        assert r["id"] == f"{split}-{i:06d}"
        assert all(isinstance(r[k], str) and r[k] for k in r)
    counts = Counter(r["category"] for r in rows)
    assert set(counts) == set(datagen.CATEGORIES)
    assert set(counts.values()) == {N[split]}
    assert len(rows) >= 100


def test_response_shape(split_rows):
    split, rows = split_rows
    budget = datagen.SPLITS[split]["max_tokens"]
    shape = re.compile(r"<think>\n(?:[^\n<]+\n)+</think>\n\n[^\n<]+")
    for r in rows:
        assert shape.fullmatch(r["chosen"]), r["chosen"]
        if r["category"] == "no_thinking":
            assert "<think>" not in r["rejected"] and "\n" not in r["rejected"]
            assert r["chosen"].endswith("\n\n" + r["rejected"])
        else:
            assert shape.fullmatch(r["rejected"]), r["rejected"]
        assert max(len(r["chosen"]), len(r["rejected"])) <= 400
        longest = max(datagen.approx_tokens(r["chosen"]), datagen.approx_tokens(r["rejected"]))
        assert datagen.approx_tokens(r["prompt"]) + longest <= budget + 10


def test_a_no_rejected_only_line_templates(split_rows):
    _, rows = split_rows
    assert rejected_only_lines(rows) == []


def test_b_wrong_step_and_contradiction_differ_only_in_digits(split_rows):
    _, rows = split_rows
    for r in rows:
        if r["category"] in ("wrong_step", "contradiction"):
            assert mask(r["chosen"]) == mask(r["rejected"]), r["id"]
            assert abs(len(r["chosen"]) - len(r["rejected"])) <= 2, r["id"]


def test_c_line_rates_similar(split_rows):
    _, rows = split_rows
    assert rate_violations(rows) == {}


def test_h_line_rates_similar_within_categories(split_rows):
    _, rows = split_rows
    assert category_rate_violations(rows) == {}


def test_d_length_alone_cannot_win(split_rows):
    split, rows = split_rows
    longer, shorter = length_accuracies(rows)
    print(f"{split}: longer-wins {longer:.3f}, shorter-wins {shorter:.3f}")
    assert longer <= 0.7 and shorter <= 0.7


def test_e_correctness_verifiable(split_rows):
    split, rows = split_rows
    for r in rows:
        truth = true_answer(r["prompt"], split)
        a = parse_prompt(r["prompt"], split)[0]
        assert step_errors(r["chosen"]) == [], (r["id"], r["chosen"])
        assert column_sub_borrow_errors(r["chosen"], a) == [], r["id"]
        assert final_number(r["chosen"]) == truth, r["id"]
        if r["category"] in WRONG_FINAL:
            assert final_number(r["rejected"]) != truth, r["id"]
        else:
            assert final_number(r["rejected"]) == truth, r["id"]
        if r["category"] == "contradiction":
            assert step_errors(r["rejected"]) == []  # reasoning right, answer line wrong
            think = r["rejected"].split("</think>")[0]
            assert int(re.findall(r"\d+", think)[-1]) == truth  # thinking ends on the truth
        if r["category"] in ("wrong_step", "longer_but_worse"):
            errs = step_errors(r["rejected"]) + column_sub_borrow_errors(r["rejected"], a)
            assert errs, (r["id"], r["rejected"])
        if r["category"] == "shallow_thinking":
            think = r["rejected"].split("</think>")[0]
            assert "=" not in think and 1 <= len(think.strip().split("\n")) - 1 <= 2
        if r["category"] == "longer_but_worse":
            assert len(r["rejected"]) >= len(r["chosen"]) + datagen.LONGER_BY


def test_f_no_duplicates_and_disjoint_splits():
    train, test = load("train"), load("test")
    for rows in (train, test):
        keys = [(r["prompt"], r["chosen"], r["rejected"]) for r in rows]
        assert len(keys) == len(set(keys))
        assert all(r["chosen"] != r["rejected"] for r in rows)
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    # no (a, op, b) problem in both splits, even under another wording
    def problems(rows, split):
        return {parse_prompt(r["prompt"], split) for r in rows}
    assert not problems(train, "train") & problems(test, "test")
    # test_range: a 4-digit operand in every problem, a range train never has
    assert all(max(a, b) >= 1000 for a, _, b in problems(load("test_range"), "test_range"))
    assert all(max(a, b) < 1000 for a, _, b in problems(train, "train"))
    # disjoint prompt templates
    for op in "+-":
        assert not set(datagen.PROMPT_TEMPLATES["train"][op]) & set(datagen.PROMPT_TEMPLATES["test"][op])


# ----------------------------------------------------------- the checkers can fail


def _corrupt(rows, fn, category):
    out = []
    for r in rows:
        r = dict(r)
        if r["category"] == category:
            r["rejected"] = fn(r["rejected"])
        out.append(r)
    return out


def test_checkers_detect_artifacts():
    rows = load("test")
    bad = _corrupt(rows, lambda s: s.replace("\n</think>", "\nHmm.\n</think>"), "wrong_step")
    assert "Hmm." in rejected_only_lines(bad)
    assert "Hmm." in rate_violations(bad)
    bad = _corrupt(rows, lambda s: s + " ", "contradiction")
    assert any(mask(r["chosen"]) != mask(r["rejected"]) for r in bad if r["category"] == "contradiction")
    padded = [dict(r, chosen=r["chosen"] + "\n" * 300) for r in rows]
    assert length_accuracies(padded)[0] > 0.7


def test_category_checker_detects_lines_leaning_one_side():
    rows = load("test")
    # the old longer_but_worse artifact: a re-check line in every rejected response of the category
    bad = _corrupt(rows, lambda s: s.replace("\n</think>", "\nLet me double-check.\n</think>"), "longer_but_worse")
    assert ("longer_but_worse", "Let me double-check.") in category_rate_violations(bad)
    # ... which the split-wide rules (a) and (c) let through: chosen responses use the line too
    assert rejected_only_lines(bad) == [] and "Let me double-check." not in rate_violations(bad)
    assert category_rate_violations(rows) == {}
    # lines that lean chosen: the rejected responses of a category lose their openers
    def no_openers(s):
        return "\n".join(ln for ln in lines(s) if ln not in datagen.OPENERS)
    bad = category_rate_violations(_corrupt(load("train"), no_openers, "longer_but_worse"))
    assert {line for _, line in bad} == set(datagen.OPENERS)
    assert all(c > 0 and j == 0 for c, j in bad.values())


def test_checkers_detect_wrong_steps():
    assert step_errors("<think>\nOnes: 7 + 8 = 14.\n</think>\n\nAnswer: 84")
    assert step_errors("<think>\nStart at 47.\nAdd 30 to get 67.\n</think>\n\nAnswer: 67")
    dropped = ("<think>\nOnes: 7 + 8 = 15, carry 1.\n"
               "Tens: 4 + 3 + 0 = 7, carry 0.\n</think>\n\nAnswer: 75")
    assert step_errors(dropped)
    no_borrow = "<think>\nOnes: 17 - 8 = 9, borrow 1.\nTens: 4 - 3 = 1, borrow 0.\n</think>\n\nAnswer: 19"
    assert column_sub_borrow_errors(no_borrow, 47)
    assert step_errors("<think>\nOnes: 7 + 8 = 15, carry 1.\n</think>\n\nAnswer: 85") == []
