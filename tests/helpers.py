"""Plain helpers shared by the tests (fixtures live in conftest.py): `from helpers import make_pairs`.

pytest's default import mode puts tests/ on sys.path; the programs in tests/programs/ add it themselves.
"""
import json
import random

from nbhelpers.data import Pair


def make_pairs(n=48, seed=0):
    """Small pairs with a learnable signal: chosen reasons in <think>, rejected does not.

    Each is a `Pair` with a `line` (1-based), as `load_pairs` returns them."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        chosen = f"<think>\nTens: {a // 10 * 10} + {b // 10 * 10}.\nOnes: {a % 10} + {b % 10}.\n</think>\n\nThe answer is {a + b}."
        pairs.append(Pair({"prompt": f"What is {a} + {b}?", "chosen": chosen, "rejected": f"The answer is {a + b}.",
                           "id": f"p{i}", "category": "no_thinking"}, line=i + 1))
    return pairs


def write_jsonl(path, rows):
    """Write rows (dicts or pairs) to a JSONL file, one object per line."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
