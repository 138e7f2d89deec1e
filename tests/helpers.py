"""Plain helpers shared by the tests (fixtures live in conftest.py): `from helpers import make_pairs`.

pytest's default import mode puts tests/ on sys.path; the programs in tests/programs/ add it themselves.
"""
import json
import random
import re

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


OPS = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "x": lambda x, y: x * y,
       "/": lambda x, y: x / y}
# "x op y = s" and "x op y op z = s", with or without spaces, "x" for times, "$" before the result
EQUATION = re.compile(r"(\d+) ?([-+*/x]) ?(\d+)(?: ([-+]) (\d+))? ?= ?\$?(\d+)")


def equation_checks(text):
    """(equation, is it right) for every equation written in `text`: the tests' own oracle for generated and
    hand-written solutions, kept independent of the calculator they test (nbhelpers/calculator.py)."""
    out = []
    for m in EQUATION.finditer(text):
        x, op, y, op2, z, s = m.groups()
        value = OPS[op](int(x), int(y))
        out.append((m[0], (OPS[op2](value, int(z)) if op2 else value) == int(s)))
    return out


def tiny_policy(seed=0):
    """A small random Qwen3 causal LM with the real Qwen3 tokenizer: (model, tokenizer)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from nbhelpers.tokenizer import qwen3_tokenizer

    tokenizer = qwen3_tokenizer()
    config = Qwen3Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=32, intermediate_size=128, vocab_size=len(tokenizer), tie_word_embeddings=True,
                         max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
