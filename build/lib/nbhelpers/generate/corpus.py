"""Reading matter for the tiny body's warm-up: correct worked solutions in varied wording.

The shipped pairs write every step one way ("Ones: 8 + 7 = 15, carry 1."). A body that has read
only that learns arithmetic in that notation, and its likelihood means little on "8 plus 7 is
15". So before reward training the tiny body also reads generated, always-correct solutions in
words and symbols, with multiplication, division and prime checks. This is the "pretrain, then
train the reward model" order in miniature; no pair, no rejected answer, no test-split problem
and no problem of the hand-written probe (data/probe/probe.jsonl) is in it.

Deterministic: ``warmup_corpus(n, seed)`` returns the same (prompt, response) list every time.
"""
from __future__ import annotations

import random

from .datagen import digits, place_parts, split_of

PLACES = ("units", "tens", "hundreds", "thousands")
# The problems of data/probe/probe.jsonl (a check of generalisation): never drawn here.
PROBE_PROBLEMS = {(58, "+", 67), (243, "+", 189), (76, "+", 49), (405, "+", 297), (12, "*", 15), (64, "/", 4),
                  (91, "prime", 0)}
# How a step "x op y -> s" is said. {x}, {y}, {s} are filled in.
SAY = {
    "+": ("{x} + {y} = {s}", "{x} plus {y} is {s}", "{x} plus {y} equals {s}", "{x} and {y} make {s}",
          "adding {y} to {x} gives {s}", "the sum of {x} and {y} is {s}", "{s} = {x} + {y}"),
    "-": ("{x} - {y} = {s}", "{x} minus {y} is {s}", "{x} minus {y} equals {s}", "{x} take away {y} leaves {s}",
          "subtracting {y} from {x} gives {s}", "the difference of {x} and {y} is {s}", "{s} = {x} - {y}"),
    "*": ("{x} * {y} = {s}", "{x} x {y} = {s}", "{x} times {y} is {s}", "{x} multiplied by {y} is {s}",
          "{y} lots of {x} make {s}"),
    "/": ("{x} / {y} = {s}", "{x} divided by {y} is {s}", "{x} shared among {y} gives {s} each"),
}
ASK = {
    "+": ("What is {a} plus {b}?", "Add {a} to {b}.", "What do {a} and {b} make?", "Work out {a} + {b}.",
          "Tom has {a} marbles and finds {b} more. How many now?", "What is the total of {a} and {b}?"),
    "-": ("What is {a} minus {b}?", "Take {b} away from {a}.", "Work out {a} - {b}.",
          "A jar holds {a} coins and {b} are removed. How many remain?", "How far is {b} below {a}?"),
    "*": ("What is {a} times {b}?", "Multiply {a} by {b}.", "Work out {a} * {b}.",
          "There are {a} boxes with {b} pens each. How many pens?"),
    "/": ("What is {a} divided by {b}?", "Divide {a} by {b}.", "Work out {a} / {b}.",
          "{a} sweets are shared equally by {b} children. How many each?"),
}
OPEN = ("", "", "Let me see.", "Step by step.", "Okay.", "Let me check carefully.")
CLOSE = ("The answer is {r}.", "{r}", "So the answer is {r}.", "Answer: {r}", "It is {r}.", "**{r}**")


def _allowed(a: int, op: str, b: int) -> bool:
    """Not a test-split problem (hash partition of datagen) and not a probe problem, in either order."""
    return (split_of(a, op, b) == "train" and (a, op, b) not in PROBE_PROBLEMS
            and (b, op, a) not in PROBE_PROBLEMS)


def _say(rng: random.Random, op: str, x: int, y: int, s: int) -> str:
    return rng.choice(SAY[op]).format(x=x, y=y, s=s)


def _line(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _column(rng, a, op, b):
    """Column addition/subtraction with carries or borrows, said in words or symbols."""
    da, db = digits(a), digits(b)
    width = max(len(da), len(db))
    da, db = da + [0] * (width - len(da)), db + [0] * (width - len(db))
    lines, carry = [], 0
    for k in range(width):
        if op == "+":
            s = da[k] + db[k] + carry
            step = _say(rng, "+", f"{da[k]} + {db[k]}", carry, s) if carry else _say(rng, "+", da[k], db[k], s)
            lines.append(f"{PLACES[k].capitalize()}: {step}. Write {s % 10}, carry {s // 10}.")
            carry = s // 10
        else:
            top = da[k] - carry
            carry = int(top < db[k])
            top += 10 * carry
            lines.append(f"{PLACES[k].capitalize()}: {_say(rng, '-', top, db[k], top - db[k])}"
                         + (f" after borrowing 1 from the {PLACES[k + 1]}." if carry else "."))
    if op == "+" and carry:
        lines.append(f"The last carry {carry} goes in front.")
    return lines


def _chunks(rng, a, op, b):
    """Add or subtract the second number in place-value chunks."""
    parts = place_parts(b)
    lines, r = [f"Split {b} into {' and '.join(map(str, parts))}."], a
    for part in parts:
        new = r + part if op == "+" else r - part
        lines.append(_line(_say(rng, op, r, part, new)))
        r = new
    return lines


def _add_sub(rng):
    while True:
        op = rng.choice("+-")
        a, b = rng.randint(10, 999), rng.randint(2, 999)
        if op == "-":
            a, b = max(a, b), min(a, b)
        if a != b and _allowed(a, op, b):
            break
    r = a + b if op == "+" else a - b
    lines = (_column if rng.random() < 0.5 else _chunks)(rng, a, op, b) + [_line(_say(rng, op, a, b, r))]
    return op, a, b, r, lines


def _multiply(rng):
    a, b = rng.randint(2, 99), rng.randint(2, 19 if rng.random() < 0.5 else 9)
    if not _allowed(a, "*", b):
        return _multiply(rng)
    if b <= 10:
        return "*", a, b, a * b, [_line(_say(rng, "*", a, b, a * b))]
    lines = [f"{b} is 10 and {b - 10}.", _line(_say(rng, "*", a, 10, a * 10)),
             _line(_say(rng, "*", a, b - 10, a * (b - 10))), _line(_say(rng, "+", a * 10, a * (b - 10), a * b))]
    return "*", a, b, a * b, lines


def _divide(rng):
    q, b = rng.randint(2, 40), rng.randint(2, 12)
    a = q * b
    if not _allowed(a, "/", b):
        return _divide(rng)
    return "/", a, b, q, [_line(_say(rng, "*", b, q, a)), _line("so " + _say(rng, "/", a, b, q))]


def _prime(rng):
    n = rng.randint(4, 199)
    if not _allowed(n, "prime", 0):
        return _prime(rng)
    p = next((d for d in range(2, int(n ** 0.5) + 1) if n % d == 0), None)
    if p:
        lines = [_line(_say(rng, "*", p, n // p, n)), f"So {n} has a divisor other than 1 and itself."]
        final = rng.choice(("No, {n} is not prime.", "No. {n} = {p} x {q}, so it is composite."))
    else:
        tried = [d for d in (2, 3, 5, 7, 11, 13) if d * d <= n]
        lines = [f"{n} is not divisible by {', '.join(map(str, tried))}." if tried else f"{n} has no smaller divisor.",
                 f"No prime up to the square root of {n} divides it."]
        final = rng.choice(("Yes, {n} is prime.", "Yes. {n} is a prime number."))
    prompt = rng.choice(("Is {n} a prime number?", "Is {n} prime?", "Decide whether {n} is prime."))
    return prompt.format(n=n), lines, final.format(n=n, p=p, q=n // p if p else 0)


# Word problems told as stories: the steps are sentences with the equation inside ("Tom buys 4 * 12 = 48
# pencils."), results followed by units and words, and the answer line repeats the last result. People write
# solutions this way; a body that has read only bare arithmetic lines loses track in them.
STORY_SHARE = 0.3   # share of the corpus told as word-problem stories
NAMES = (("Tom", "he"), ("Mia", "she"), ("Sam", "he"), ("Lena", "she"), ("Omar", "he"), ("Ava", "she"),
         ("Ben", "he"), ("Zoe", "she"), ("Raj", "he"), ("Nora", "she"))
ITEMS = ("apples", "pencils", "stamps", "cookies", "marbles", "books", "shells", "cards", "eggs", "coins",
         "bottles", "flowers", "tickets", "boxes", "bricks")
EQ = ("{x} {op} {y} = {s}", "{x}{op}{y}={s}", "{x} {op} {y} = {s}")   # spaced twice as often as not


def _eq(rng, x, op, y, s, money=False):
    sym = op if op != "*" or rng.random() < 0.7 else "x"
    return rng.choice(EQ).format(x=x, op=sym, y=y, s=("$" if money else "") + str(s))


def _story(rng):
    """(prompt, thinking lines, final value) of a two-step word problem, told in sentences."""
    (name, pron), item = rng.choice(NAMES), rng.choice(ITEMS)
    kind = rng.randrange(6)
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    if kind == 0:
        c = rng.randint(1, a * b - 1)
        r = a * b - c
        prompt = f"{name} buys {a} packs of {b} {item} and gives away {c}. How many {item} does {pron} have left?"
        lines = [f"{name} buys {_eq(rng, a, '*', b, a * b)} {item}.",
                 f"After giving away {c}, {pron} has {_eq(rng, a * b, '-', c, r)} {item} left."]
    elif kind == 1:
        c = rng.randint(2, 7)
        r = a * b * c
        prompt = f"{name} earns ${a} an hour and works {b} hours a day. How much does {pron} earn in {c} days?"
        lines = [f"Each day {pron} earns {_eq(rng, a, '*', b, a * b, money=True)}.",
                 f"Over {c} days that is {_eq(rng, a * b, '*', c, r, money=True)} in total."]
    elif kind == 2:
        c = rng.randint(1, 9)
        total = a * b + c
        r = a
        prompt = f"{name} has {total} {item}, keeps {c} and shares the rest equally among {b} friends. How many does each friend get?"
        lines = [f"{name} shares {_eq(rng, total, '-', c, a * b)} {item}.",
                 f"Each friend gets {_eq(rng, a * b, '/', b, r)} {item}."]
    elif kind == 3:
        x, y, z = rng.randint(10, 90), rng.randint(2, 40), rng.randint(2, 9)
        r = x + y - z
        prompt = f"{name} had {x} {item}, found {y} more and lost {z}. How many {item} does {pron} have now?"
        lines = [f"{name} has {x} + {y} - {z} = {r} {item} now."] if rng.random() < 0.5 else [
                 f"After finding more, {pron} has {_eq(rng, x, '+', y, x + y)} {item}.",
                 f"After losing {z}, {pron} has {_eq(rng, x + y, '-', z, r)} {item} left."]
    elif kind == 4:
        c = a * b + rng.randint(1, 30)
        r = c - a * b
        prompt = f"{name} buys {a} {item} at ${b} each and pays with ${c}. How much change does {pron} get?"
        lines = [f"The {item} cost {_eq(rng, a, '*', b, a * b, money=True)}.",
                 f"So the change is {_eq(rng, c, '-', a * b, r, money=True)} for {name}."]
    else:
        weeks = rng.randint(2, 6)
        r = a * 7 * weeks
        prompt = f"{name} collects {a} {item} every day. How many {item} does {pron} collect in {weeks} weeks?"
        lines = [f"{weeks} weeks have {_eq(rng, weeks, '*', 7, weeks * 7)} days.",
                 f"So {pron} collects {_eq(rng, weeks * 7, '*', a, r)} {item} in that time."]
    return prompt, lines, r


def warmup_corpus(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (prompt, response) pairs of correct worked solutions, each with a <think> block."""
    rng = random.Random(f"warmup-corpus/{seed}")
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < STORY_SHARE:
            prompt, lines, r = _story(rng)
            final = rng.choice(CLOSE).format(r=r)
        elif (kind := (kind - STORY_SHARE) / (1 - STORY_SHARE)) < 0.12:
            prompt, lines, final = _prime(rng)
        else:
            op, a, b, r, lines = (_add_sub if kind < 0.7 else _multiply if kind < 0.88 else _divide)(rng)
            prompt = rng.choice(ASK[op]).format(a=a, b=b)
            final = rng.choice(CLOSE).format(r=r)
        opener = rng.choice(OPEN)
        think = "\n".join(([opener] if opener else []) + lines)
        out.append((prompt, f"<think>\n{think}\n</think>\n\n{final}"))
    return out
