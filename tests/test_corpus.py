"""The warm-up corpus (nbhelpers.generate.corpus): every stated fact is right, no test or probe problem leaks in."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import OPS, equation_checks
from nbhelpers.generate import corpus, datagen

ROOT = Path(__file__).resolve().parents[1]


def _fact_patterns():
    """One regex per SAY template; x may be "8 + 7" (a column step with a carry)."""
    out = []
    for op, templates in corpus.SAY.items():
        for template in templates:
            rx = re.escape(template).replace(r"\{x\}", r"(?P<x>\d+(?: \+ \d+)?)")
            rx = rx.replace(r"\{y\}", r"(?P<y>\d+)").replace(r"\{s\}", r"(?P<s>\d+)")
            out.append((op, re.compile(rf"(?i)(?:^|: |so ){rx}(?:[. ]|$)")))
    return out


PATTERNS = _fact_patterns()


def checked_facts(text: str) -> list[tuple[str, bool]]:
    """(line, is the stated fact right) for every line that states one."""
    out = []
    for line in text.splitlines():
        for op, rx in PATTERNS:
            m = rx.search(line)
            if m:
                x = sum(int(v) for v in m["x"].split(" + "))
                out.append((line, OPS[op](x, int(m["y"])) == int(m["s"])))
                break
        else:   # the equations inside story sentences ("Tom buys 4 * 12 = 48 pencils.", "11-2=9", "$")
            out += [(line, ok) for _, ok in equation_checks(line)]
    return out


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))


@pytest.fixture(scope="module")
def items():
    return corpus.warmup_corpus(2500)


def test_deterministic_and_shaped(items):
    assert items == corpus.warmup_corpus(2500)
    assert corpus.warmup_corpus(50, seed=1) != corpus.warmup_corpus(50, seed=2)
    for prompt, response in items:
        assert prompt.strip() and response.startswith("<think>\n") and response.count("</think>") == 1


def test_every_stated_fact_and_answer_is_right(items):
    facts = [f for _, r in items for f in checked_facts(r)]
    wrong = [line for line, ok in facts if not ok]
    assert not wrong, wrong[:5]
    assert len(facts) > 5000   # the patterns really match: most lines state a fact
    for prompt, response in items:
        thinking, final = response.split("</think>")
        if "prime" in prompt:
            n = int(re.search(r"\d+", prompt)[0])
            assert final.strip().startswith("Yes" if _is_prime(n) else "No"), (prompt, final)
        else:   # the final number is the value the last thinking line arrives at
            last_value = re.findall(r"\d+", thinking.strip().splitlines()[-1])
            assert re.findall(r"\d+", final)[-1] in last_value, (prompt, response)


def test_checker_detects_a_wrong_fact():
    assert checked_facts("Units: 8 plus 7 is 14. Write 4, carry 1.") == [("Units: 8 plus 7 is 14. Write 4, carry 1.", False)]
    assert checked_facts("So 64 divided by 4 is 16.")[0][1]
    assert not checked_facts("Tens: 5 + 6 + 1 = 13.")[0][1]
    assert checked_facts("Mia buys 4 x 12 = 48 pencils.") == [("Mia buys 4 x 12 = 48 pencils.", True)]
    assert not checked_facts("So the change is 55-44=$12 for Tom.")[0][1]
    assert not checked_facts("Zoe has 49 + 6 - 8 = 48 pencils now.")[0][1]


def test_no_test_split_or_probe_problem(items):
    test_prompts = {json.loads(line)["prompt"] for line in (ROOT / "data/thinking_prefs/test.jsonl").open()}
    assert not test_prompts & {p for p, _ in items}
    asks = [(op, re.compile(re.escape(t).replace(r"\{a\}", r"(?P<a>\d+)").replace(r"\{b\}", r"(?P<b>\d+)")))
            for op, ts in corpus.ASK.items() for t in ts]
    seen = set()
    for prompt, _ in items:
        for op, rx in asks:
            m = rx.fullmatch(prompt)
            if m:
                a, b = int(m["a"]), int(m["b"])
                seen.add((a, op, b))
                if op in "+-":   # the training side of the test split, below test_range's 4-digit numbers
                    assert datagen.split_of(a, op, b) == "train" and max(a, b) < 1000, prompt
                break
        else:
            seen.add((int(re.search(r"\d+", prompt)[0]), "prime", 0))
    assert len(seen) > 1500
    held_out = corpus.PROBE_PROBLEMS | {(b, op, a) for a, op, b in corpus.PROBE_PROBLEMS}
    assert not seen & held_out


def test_probe_problems_are_listed():
    """PROBE_PROBLEMS holds every arithmetic problem of data/probe/probe.jsonl."""
    for line in (ROOT / "data/probe/probe.jsonl").open():
        prompt = json.loads(line)["prompt"]
        numbers = [int(n) for n in re.findall(r"\d+", prompt)]
        if not numbers:
            continue
        op = "prime" if "prime" in prompt else "*" if "times" in prompt else "/" if "divided" in prompt else "+"
        problem = (numbers[0], op, numbers[1] if len(numbers) > 1 else 0)
        assert problem in corpus.PROBE_PROBLEMS, prompt
