"""A calculator check: every equation a response writes, recomputed.

A 4-layer body cannot multiply 6 * 140 in its head, so one wrong intermediate result in reasoning people
write ("He sprints 3*3=11 times", then everything after it consistent with 11) is often no more surprising
to the verifier than the right one. What can be checked exactly should be: reward models for reasoning
are paired with tools (tool-augmented reward models; the rule-based answer checks of RL with verifiable
rewards). This one finds each written equation `a op b ... = c` (`+ - * / x × ÷`, parentheses, `$`, thousands
commas) and recomputes its left side:

    calculator_check(text) = -(number of equations whose written result is wrong)

0 when every equation is right or none is written, so writing no arithmetic is never penalized and never
rewarded by it. A result written with k decimals is right within 10^-k (rounded, cut or rounded up:
"10/3 = 3.33", "7/2 = 3 full boxes", "7/2 = 4 boxes to hold them"). Equations that do not stand alone are
skipped, never guessed: one that continues an expression ("9 hours * 2/3 = 6": the 9 is cut off by a word), one
followed by more arithmetic ("= 2/3 of an hour"), a chain "a = b = c", negative or percentage results. Its
weight in the reward is fitted with the others (verifier.py).
"""
from __future__ import annotations

import ast
import operator
import re

NUMBER = r"\$?\d+(?:,\d{3})*(?:\.\d+)?"
OPERATOR = r"[-+*/x×÷]"
EQUATION = re.compile(
    rf"((?:\(\s*)?{NUMBER}(?:\s*\)?\s*{OPERATOR}\s*\(?\s*{NUMBER})+\s*\)?)"    # the left side: at least one operator
    rf"\s*=\s*({NUMBER})"                                               # the written result
    rf"(?![\w%/*+×÷(]|[.,]\d|\s*{OPERATOR}\s*[\d(])")                     # ... not continued by more arithmetic
CONTINUES = re.compile(r"([-+*/x×÷=(\d][ \t]*|[\w.,$%])\Z")   # text before an equation that it would continue
OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _value(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        return OPS[type(node.op)](_value(node.left), _value(node.right))
    raise ValueError("not plain arithmetic")


def _number(text: str) -> str:
    return text.replace("$", "").replace(",", "")


def evaluate(left: str) -> float | None:
    """The value of an equation's left side, or None if it is not plain arithmetic (or divides by zero)."""
    expression = re.sub(r"[x×]", "*", _number(left)).replace("÷", "/")
    try:
        return _value(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


def equations(text: str) -> list[tuple[str, str]]:
    """(left side, written result) of each equation in `text` that stands alone."""
    return [(m.group(1).strip(), m.group(2)) for m in EQUATION.finditer(text) if not CONTINUES.search(text[:m.start()])]


def is_wrong(left: str, result: str) -> bool:
    """Does the written result differ from the left side's value (by 10^-k or more, k = its decimals)?"""
    value = evaluate(left)
    if value is None:
        return False
    result = _number(result)
    decimals = len(result.split(".")[1]) if "." in result else 0
    return abs(value - float(result)) >= 10 ** -decimals


def calculator_check(text: str) -> int:
    """Minus the number of wrong equations in `text` (0: all right, or none written)."""
    return -sum(is_wrong(left, result) for left, result in equations(text))
