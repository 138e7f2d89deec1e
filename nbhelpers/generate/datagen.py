"""Deterministic generator of thinking-quality preference pairs (checkable arithmetic).

Every pair is ``{"id", "category", "prompt", "chosen", "rejected"}``. Prompts are
addition / subtraction problems with 2- and 3-digit numbers; responses use the shape::

    <think>
    ...one reasoning step per line...
    </think>

    The answer is 85.

A response without thinking is just the final line. Five categories:

* ``no_thinking``       chosen reasons and answers; rejected gives the same final line only.
* ``shallow_thinking``  rejected thinks in one or two lines with no calculation.
* ``wrong_step``        one intermediate step is wrong; the error is carried to the answer.
* ``contradiction``     the thinking is right, the final line states another number.
* ``longer_but_worse``  rejected has one wrong step carried to a wrong answer and is padded
                        with useless lines (a step line said twice, openers, restating, a
                        conclusion) to at least LONGER_BY characters more; both responses share
                        the check lines and the final-line template.

The generator is built so that rejected responses carry no surface cue that their chosen
partners lack: every line template a rejected response uses is also used by chosen
responses, at similar rates, over a split and within each of ``wrong_step``, ``contradiction`` and
``longer_but_worse``; ``wrong_step`` and ``contradiction`` pairs differ only in digits.
``tests/test_datagen.py`` checks these invariants. Plain stdlib; same seed, same bytes.

Regenerate the shipped files with ``python -m nbhelpers datagen`` (its defaults write them to
data/thinking_prefs, seed 1234).
"""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path

CATEGORIES = (
    "no_thinking",
    "shallow_thinking",
    "wrong_step",
    "contradiction",
    "longer_but_worse",
)

# Disjoint prompt templates: the test split measures generalisation to unseen wordings.
PROMPT_TEMPLATES = {
    "train": {
        "+": (
            "What is {a} + {b}?",
            "Compute {a} + {b}.",
            "Calculate {a} + {b}.",
            "Add {a} and {b}.",
            "A shop has {a} apples and gets {b} more. How many apples does it have now?",
            "Sam has {a} stickers and Mia gives him {b} more. How many stickers does Sam have?",
        ),
        "-": (
            "What is {a} - {b}?",
            "Compute {a} - {b}.",
            "Calculate {a} - {b}.",
            "Subtract {b} from {a}.",
            "A shop has {a} apples and sells {b}. How many apples are left?",
            "Sam has {a} stickers and gives {b} away. How many stickers does Sam have left?",
        ),
    },
    "test": {
        "+": (
            "Evaluate {a} + {b}.",
            "Find the sum of {a} and {b}.",
            "A library has {a} books and buys {b} more. How many books does it have now?",
        ),
        "-": (
            "Evaluate {a} - {b}.",
            "How much is {a} minus {b}?",
            "A library has {a} books and lends out {b}. How many books are still on the shelves?",
        ),
    },
}

# Lines with no calculation. Chosen responses open with them too, so they are no cue.
OPENERS = (
    "Let me work this out step by step.",
    "This is simple arithmetic.",
    "I know this one.",
    "Let me think.",
)
RESTATE = "I need {a} {op} {b}."
DOUBLE_CHECK = "Let me double-check."
CHECK = "Check: {r} {inv} {b} = {c}."
CONCLUDE = "So {a} {op} {b} = {r}."
FINAL_TEMPLATES = (
    "The answer is {r}.",
    "So the result is {r}.",
    "Answer: {r}",
    "The result is {r}.",
)
PLACE_NAMES = ("Ones", "Tens", "Hundreds", "Thousands")
# (digits of a, digits of b) and their weights; 2-digit problems dominate to keep responses
# short (Qwen tokenizes numbers digit by digit).
DIGIT_MIX = {
    "+": (((2, 2), 0.5), ((3, 2), 0.3), ((2, 3), 0.15), ((3, 3), 0.05)),
    "-": (((2, 2), 0.5), ((3, 2), 0.4), ((3, 3), 0.1)),
}
# Problems whose prompt + longest usual response exceed this rough token estimate (which
# overestimates Qwen's count) are redrawn, so that with a chat template every example stays
# under ~120 Qwen tokens.
MAX_TOKENS = 115
# Per split: prompt templates, operand sizes, length budget, and whether problems are drawn from the
# split's side of the hash partition (`split_of`). "test_range" is a held-out number range (a 4-digit
# operand, never in train or test) with the test split's held-out wordings and a longer length budget.
SPLITS = {
    "train": {"templates": "train", "digit_mix": DIGIT_MIX, "max_tokens": MAX_TOKENS, "partition": True},
    "test": {"templates": "test", "digit_mix": DIGIT_MIX, "max_tokens": MAX_TOKENS, "partition": True},
    "test_range": {"templates": "test", "max_tokens": 150, "partition": False, "digit_mix": {
        "+": (((4, 2), 0.5), ((4, 3), 0.25), ((3, 4), 0.25)),
        "-": (((4, 2), 0.5), ((4, 3), 0.5)),
    }},
}

# Probabilities of the optional lines in chosen responses (tuned so that each line occurs
# in chosen and rejected responses at similar rates; see tests/test_datagen.py).
P_OPENER = 0.8
P_TWO_OPENERS = 0.15
P_RESTATE = 0.5
P_CHECK = 0.4
P_DOUBLE_CHECK = 0.85
P_CONCLUDE = 0.5
# longer_but_worse: the rejected response is at least this many characters longer than the chosen
# one. More would need additions at rates the chosen responses do not have (rule h of
# tests/test_datagen.py bounds every template's rejected/chosen ratio within a category).
LONGER_BY = 30


# --------------------------------------------------------------------------- helpers


def digits(n: int) -> list[int]:
    """Digits of n, ones first."""
    return [int(c) for c in reversed(str(n))]


def place_parts(n: int) -> list[int]:
    """Place-value parts of n, highest first, zeros skipped (438 -> [400, 30, 8])."""
    d = digits(n)
    return [d[k] * 10**k for k in range(len(d) - 1, -1, -1) if d[k]]


def _apply(op: str, x: int, y: int) -> int:
    return x + y if op == "+" else x - y


class _Err:
    """Applies at most one perturbation to a named intermediate value.

    Style functions pass every intermediate value through ``v(step, value, deltas)``; a
    first run without error records the steps and their plausible deltas, a second run
    perturbs one of them and the rest of the solution is computed from the wrong value.
    """

    def __init__(self, target=None, delta=0):
        self.target = target
        self.delta = delta
        self.steps: list[tuple[str, tuple[int, ...]]] = []

    def v(self, step: str, value: int, deltas: tuple[int, ...]) -> int:
        self.steps.append((step, deltas))
        if step == self.target:
            return value + self.delta
        return value


# --------------------------------------------------------------------------- styles
# Each style returns the reasoning lines and the value they arrive at. Invalid states
# caused by a perturbation (negative numbers, digits > 9 ...) raise ValueError.


def _style_place(a: int, op: str, b: int, e: _Err) -> tuple[list[str], int]:
    """Place value (addition only): Tens: 40 + 30 = 70. Ones: 7 + 8 = 15. Total: ..."""
    da, db = digits(a), digits(b)
    n = max(len(da), len(db))
    lines, sums = [], []
    for k in range(n - 1, -1, -1):
        x = (da[k] if k < len(da) else 0) * 10**k
        y = (db[k] if k < len(db) else 0) * 10**k
        s = e.v(f"place{k}", x + y, (10**k, -(10**k)))
        if s < 0:
            raise ValueError
        sums.append(s)
        lines.append(f"{PLACE_NAMES[k]}: {x} + {y} = {s}.")
    total = e.v("total", sum(sums), (10, -10, 1, -1))
    lines.append(f"Total: {' + '.join(map(str, sums))} = {total}.")
    return lines, total


def _style_running(a: int, op: str, b: int, e: _Err) -> tuple[list[str], int]:
    """Running total: Start at 47. Add 30 to get 77. Add 8 to get 85."""
    verb = "Add" if op == "+" else "Subtract"
    r = a
    lines = [f"Start at {a}."]
    for i, part in enumerate(place_parts(b)):
        k = len(str(part)) - 1
        r = e.v(f"run{i}", _apply(op, r, part), (10**k, -(10**k)))
        if r < 0:
            raise ValueError
        lines.append(f"{verb} {part} to get {r}.")
    return lines, r


def _style_split(a: int, op: str, b: int, e: _Err) -> tuple[list[str], int]:
    """Split the second number: Split 38 into 30 and 8. 47 + 30 = 77. 77 + 8 = 85."""
    parts = place_parts(b)
    if len(parts) == 2:
        lines = [f"Split {b} into {parts[0]} and {parts[1]}."]
    else:
        lines = [f"Split {b} into {parts[0]}, {parts[1]} and {parts[2]}."]
    r = a
    for i, part in enumerate(parts):
        k = len(str(part)) - 1
        new = e.v(f"split{i}", _apply(op, r, part), (10**k, -(10**k)))
        if new < 0:
            raise ValueError
        lines.append(f"{r} {op} {part} = {new}.")
        r = new
    return lines, r


def _style_column(a: int, op: str, b: int, e: _Err) -> tuple[list[str], int]:
    """Column method with carries (addition) or borrows (subtraction)."""
    da, db = digits(a), digits(b)
    n = max(len(da), len(db))
    da += [0] * (n - len(da))
    db += [0] * (n - len(db))
    lines, out = [], []
    carry = 0
    for k in range(n):
        if op == "+":
            if k == 0:
                s = e.v("col0", da[0] + db[0], (1, -1))
                lines_s = f"{PLACE_NAMES[0]}: {da[0]} + {db[0]} = {s}"
            else:
                carry = e.v(f"carry{k}", carry, (-carry,) if carry else ())
                s = e.v(f"col{k}", da[k] + db[k] + carry, (1, -1))
                lines_s = f"{PLACE_NAMES[k]}: {da[k]} + {db[k]} + {carry} = {s}"
            if s < 0:
                raise ValueError
            out.append(s % 10)
            carry = s // 10
            lines.append(f"{lines_s}, carry {carry}.")
        else:
            borrow_in = 0
            if k > 0:
                borrow_in = e.v(f"borrow{k}", carry, (-carry,) if carry else ())
            top = da[k] - borrow_in
            borrow = 1 if top < db[k] else 0
            top += 10 * borrow
            d = e.v(f"col{k}", top - db[k], (1, -1))
            if not 0 <= d <= 9 or top < 0:
                raise ValueError
            out.append(d)
            carry = borrow
            lines.append(f"{PLACE_NAMES[k]}: {top} - {db[k]} = {d}, borrow {borrow}.")
    if op == "-" and carry:
        raise ValueError
    value = sum(d * 10**k for k, d in enumerate(out))
    if op == "+" and carry:
        lines.append(f"Bring down the carry {carry}.")
        value += carry * 10**n
    lines.append(f"The digits give {value}.")
    return lines, value


STYLES = {
    "place": _style_place,
    "running": _style_running,
    "split": _style_split,
    "column": _style_column,
}
STYLES_FOR_OP = {"+": ("place", "running", "split", "column"), "-": ("running", "split", "column")}
# Weights of the styles when drawing a problem: the longer styles are drawn more often
# because the length budget (MAX_TOKENS) rejects them more often.
STYLE_WEIGHTS = {"place": 3, "running": 1, "split": 1, "column": 2}


# --------------------------------------------------------------------------- rendering


def _true(a: int, op: str, b: int) -> int:
    return _apply(op, a, b)


def _render(problem, plan, err: _Err | None = None, final_value: int | None = None,
            think: bool = True) -> tuple[str, int]:
    """Render one response from a plan; returns (text, value reached by the thinking)."""
    a, op, b = problem
    steps, value = STYLES[plan["style"]](a, op, b, err or _Err())
    if plan.get("repeat"):  # step lines said twice (longer_but_worse rejected responses)
        steps = [ln for i, ln in enumerate(steps) for _ in range(2 if i in plan["repeat"] else 1)]
    answer = value if final_value is None else final_value
    final_line = plan["final"].format(r=answer)
    if not think:
        return final_line, value
    lines = list(plan["openers"])
    if plan["restate"]:
        lines.append(RESTATE.format(a=a, op=op, b=b))
    lines += steps
    if plan["check"]:
        if plan["double_check"]:
            lines.append(DOUBLE_CHECK)
        inv = "-" if op == "+" else "+"
        c = _apply(inv, value, b)
        if c < 0:
            raise ValueError
        lines.append(CHECK.format(r=value, inv=inv, b=b, c=c))
    if plan["conclude"]:
        lines.append(CONCLUDE.format(a=a, op=op, b=b, r=value))
    return _join(lines, final_line), value


def _join(think_lines: list[str], final_line: str) -> str:
    return "<think>\n" + "\n".join(think_lines) + "\n</think>\n\n" + final_line


def _mask(text: str) -> str:
    out, prev_digit = [], False
    for ch in text:
        if ch.isdigit():
            if not prev_digit:
                out.append("#")
            prev_digit = True
        else:
            out.append(ch)
            prev_digit = False
    return "".join(out)


def _openers(rng: random.Random, n: int) -> list[str]:
    return rng.sample(OPENERS, n)


def _chosen_plan(rng: random.Random, style: str) -> dict:
    openers = []
    if rng.random() < P_OPENER:
        openers = _openers(rng, 2 if rng.random() < P_TWO_OPENERS else 1)
    check = rng.random() < P_CHECK
    return {
        "style": style,
        "openers": openers,
        "restate": rng.random() < P_RESTATE,
        "check": check,
        "double_check": check and rng.random() < P_DOUBLE_CHECK,
        "conclude": rng.random() < P_CONCLUDE,
        "final": rng.choice(FINAL_TEMPLATES),
    }


def _wrong_answers(problem, rng: random.Random) -> list[int]:
    """Plausible wrong final answers: off by 1 or 10, swapped digits, a dropped carry."""
    a, op, b = problem
    r = _true(a, op, b)
    cands = [r + 1, r - 1, r + 10, r - 10]
    s = str(r)
    if len(s) >= 2 and s[-1] != s[-2]:
        cands.append(int(s[:-2] + s[-1] + s[-2]))
    if op == "+" and a % 10 + b % 10 >= 10:
        cands.append(r - 10)  # dropped carry from the ones
    if op == "-" and a % 10 < b % 10:
        cands.append(r + 10)  # forgot to borrow
    cands = [c for c in dict.fromkeys(cands) if c > 0 and c != r]
    rng.shuffle(cands)
    return cands


def _perturbed(problem, plan, rng: random.Random, chosen: str, same_shape: bool = True):
    """Render ``plan`` with one wrong intermediate step carried through to the answer.

    Returns None if no perturbation keeps the masked text and (nearly) the length of
    ``chosen`` (when ``same_shape``) and reaches a wrong positive answer.
    """
    a, op, b = problem
    truth = _true(a, op, b)
    probe = _Err()
    STYLES[plan["style"]](a, op, b, probe)
    options = [(s, d) for s, ds in probe.steps for d in ds]
    rng.shuffle(options)
    for step, delta in options:
        try:
            text, value = _render(problem, plan, _Err(step, delta))
        except ValueError:
            continue
        if value == truth or value <= 0:
            continue
        if same_shape and (_mask(text) != _mask(chosen) or abs(len(text) - len(chosen)) > 2):
            continue
        return text, value
    return None


# --------------------------------------------------------------------------- problems


_TOKEN_RE = re.compile(r"</?think>|\d| (?=\d)| ?[A-Za-z]+|[^\sA-Za-z\d]+\n*|\n+")


def approx_tokens(text: str) -> int:
    """Qwen token count estimate (within -1..+3 of Qwen3's tokenizer on this data)."""
    return len(_TOKEN_RE.findall(text))


def _rand_nonzero_digits(rng: random.Random, n_digits: int) -> int:
    return int("".join(str(rng.randint(1, 9)) for _ in range(n_digits)))


def split_of(a: int, op: str, b: int) -> str:
    """Stable hash partition of (a, op, b): no problem can occur in both splits."""
    return "test" if zlib.crc32(f"{a}{op}{b}".encode()) % 8 == 0 else "train"


def _draw_problem(rng: random.Random, split: str, used: set) -> tuple[int, str, int]:
    settings = SPLITS[split]
    while True:
        op = rng.choice("+-")
        na, nb = rng.choices(*zip(*settings["digit_mix"][op]))[0]
        a, b = _rand_nonzero_digits(rng, na), _rand_nonzero_digits(rng, nb)
        if op == "-" and a <= b:
            continue
        if (a, op, b) in used or (settings["partition"] and split_of(a, op, b) != split):
            continue
        return a, op, b


# --------------------------------------------------------------------------- pairs


def _max_tokens(problem, style: str, prompt: str) -> int:
    """Token estimate of the prompt plus the longest usual response for this problem/style.

    Used to admit problems independently of the category (a per-pair length filter would
    make big problems rarer in categories with long rejected responses: a cue).
    """
    plan = {"style": style, "openers": [max(OPENERS, key=len)], "restate": True,
            "check": True, "double_check": True, "conclude": True,
            "final": max(FINAL_TEMPLATES, key=len)}
    return approx_tokens(prompt) + approx_tokens(_render(problem, plan)[0])


def _make_pair(category: str, problem, style: str, rng: random.Random, budget: float = float("inf")):
    """(chosen, rejected) for one problem, or None if this problem does not work out.

    ``budget`` is the token estimate a response may use (the split's budget minus the prompt).
    """
    a, op, b = problem
    truth = _true(a, op, b)
    plan = _chosen_plan(rng, style)

    if category == "longer_but_worse":
        # Both responses follow the same plan: style, check / double-check lines, final-line
        # template, and the chosen's openers, restatement and conclusion. The rejected one then
        # takes useless additions in random order until it is LONGER_BY characters longer: a
        # step line said twice (one candidate per step line), another opener, the restatement,
        # the conclusion; an addition that would break the token budget is skipped. Drawing the
        # step lines as often as the other lines keeps every template's rejected/chosen ratio
        # around 1.5 within the category (rule h of tests/test_datagen.py). Then one step is made
        # wrong and carried to the answer.
        chosen, _ = _render(problem, plan)
        n_steps = len(STYLES[style](a, op, b, _Err())[0])
        extras = [("repeat", i) for i in range(n_steps)] + [(e, None) for e in ("opener", "restate", "conclude")]
        rng.shuffle(extras)
        rplan, probe = dict(plan, repeat=frozenset()), chosen
        for extra, i in extras:
            if len(probe) >= len(chosen) + LONGER_BY:
                break
            if extra == "repeat":
                cand = dict(rplan, repeat=rplan["repeat"] | {i})
            elif extra == "opener":
                if len(rplan["openers"]) == 2:
                    continue
                more = rng.choice([o for o in OPENERS if o not in rplan["openers"]])
                cand = dict(rplan, openers=rplan["openers"] + [more])
            elif rplan[extra]:
                continue
            else:
                cand = dict(rplan, **{extra: True})
            text = _render(problem, cand)[0]
            if approx_tokens(text) <= budget:
                rplan, probe = cand, text
        got = _perturbed(problem, rplan, rng, probe)
        if got is None or len(got[0]) < len(chosen) + LONGER_BY:
            return None
        return chosen, got[0]

    chosen, _ = _render(problem, plan)
    if category == "no_thinking":
        rejected, _ = _render(problem, plan, think=False)
    elif category == "shallow_thinking":
        pool = list(OPENERS) + [RESTATE.format(a=a, op=op, b=b)]
        lines = rng.sample(pool, rng.choice((1, 2)))
        rejected = _join(lines, plan["final"].format(r=truth))
    elif category == "wrong_step":
        got = _perturbed(problem, plan, rng, chosen)
        if got is None:
            return None
        rejected = got[0]
    elif category == "contradiction":
        plan["conclude"] = True  # the thinking ends stating the correct result
        chosen, _ = _render(problem, plan)
        rejected = None
        for wrong in _wrong_answers(problem, rng):
            cand, _ = _render(problem, plan, final_value=wrong)
            if abs(len(cand) - len(chosen)) <= 2:
                rejected = cand
                break
        if rejected is None:
            return None
    else:
        raise ValueError(f"unknown category {category!r}")
    return chosen, rejected


def make_pairs(n_per_category: int, seed: int, split: str) -> list[dict]:
    """Generate ``n_per_category`` pairs for each of the five categories of ``split``.

    ``split`` is "train", "test" or "test_range"; train and test use disjoint prompt templates and
    disjoint problems; test_range has test's templates and a 4-digit operand (a number range train
    never has). Deterministic: the same arguments give the same list.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    rng = random.Random(f"thinking-prefs/{seed}/{split}")
    used: set = set()
    rows = []
    # Round robin over the categories, so that every category sees the same problem mix.
    for category in [c for _ in range(n_per_category) for c in CATEGORIES]:
        while True:
            problem = _draw_problem(rng, split, used)
            a, op, b = problem
            style = rng.choices(STYLES_FOR_OP[op], [STYLE_WEIGHTS[s] for s in STYLES_FOR_OP[op]])[0]
            prompt = rng.choice(PROMPT_TEMPLATES[SPLITS[split]["templates"]][op]).format(a=a, b=b)
            if _max_tokens(problem, style, prompt) > SPLITS[split]["max_tokens"]:
                continue
            pair = _make_pair(category, problem, style, rng,
                              SPLITS[split]["max_tokens"] - approx_tokens(prompt))
            if pair is not None:
                break
        used.add(problem)
        rows.append({"category": category, "prompt": prompt,
                     "chosen": pair[0], "rejected": pair[1]})
    rng.shuffle(rows)
    return [{"id": f"{split}-{i:06d}", **row} for i, row in enumerate(rows)]


def make_problems(n: int, seed: int, partition: str = "test", templates: str = "test") -> list[dict]:
    """``n`` distinct problems ``{"prompt", "answer"}`` (the answer is the gold integer) for RL prompts and
    held-out checks: the shipped digit mix, problems from one side of the hash partition (``split_of``:
    "test" problems are in no training pair and no warm-up text), worded with the "train" or "test" templates.
    Deterministic, and drawn from its own random stream, so it does not repeat the shipped splits' order."""
    if partition not in ("train", "test"):
        raise ValueError(f"partition must be 'train' or 'test'; got {partition!r}")
    rng = random.Random(f"problems/{seed}/{partition}/{templates}")
    used, rows = set(), []
    while len(rows) < n:
        a, op, b = problem = _draw_problem(rng, partition, used)
        used.add(problem)
        rows.append({"prompt": rng.choice(PROMPT_TEMPLATES[templates][op]).format(a=a, b=b), "answer": _true(a, op, b)})
    return rows


def write_splits(out_dir, n_train_per_category: int = 500, n_test_per_category: int = 40,
                 seed: int = 1234) -> dict:
    """Write ``train.jsonl``, ``test.jsonl`` and ``test_range.jsonl`` into ``out_dir``; returns {split: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in SPLITS:
        n = n_train_per_category if split == "train" else n_test_per_category
        path = out / f"{split}.jsonl"
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for row in make_pairs(n, seed, split):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        paths[split] = path
    return paths

