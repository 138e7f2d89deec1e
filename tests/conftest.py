import pytest

from nbhelpers.profiles import get_profile


@pytest.fixture(scope="session")
def tiny_profile():
    """The tiny profile without LM warm-up: a random body built in seconds (same code path)."""
    return get_profile("tiny", warmup_lm_steps=0, max_length=128)


def make_pairs(n=48, seed=0):
    """Small pairs with a learnable signal: chosen reasons in <think>, rejected does not."""
    import random

    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        chosen = f"<think>\nTens: {a // 10 * 10} + {b // 10 * 10}.\nOnes: {a % 10} + {b % 10}.\n</think>\n\nThe answer is {a + b}."
        pairs.append({"prompt": f"What is {a} + {b}?", "chosen": chosen, "rejected": f"The answer is {a + b}.",
                      "id": f"p{i}", "category": "no_thinking", "line": i + 1})
    return pairs


@pytest.fixture
def pairs():
    return make_pairs()
