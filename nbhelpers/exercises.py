"""Checks for the notebooks' exercises: each returns a `Verdict`, shown as "correct: ..." or "not yet: <hint>".

A learner's unfinished stub (`raise NotImplementedError` or `None`) gets a hint, never a traceback, so a
headless run of the notebooks passes through the exercises. Solutions: `solutions/solutions.ipynb`.
"""
from __future__ import annotations

import tempfile
from collections import defaultdict
from types import SimpleNamespace

from .formatting import format_text

BLIND_AT = 0.6   # a category the head ranks at most this share of right: no better than a coin with a bias


class Verdict:
    """True or false with its reason; a notebook cell shows the reason."""

    def __init__(self, ok: bool, message: str):
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ("correct: " if self.ok else "not yet: ") + self.message



def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def check_template(text, tokenizer, prompt, response) -> Verdict:
    """01: `text` written by hand must equal what the chat template makes of (prompt, response)."""
    if not isinstance(text, str):
        return Verdict(False, "set `text` to the string you expect, starting with '<|im_start|>user'.")
    expected = format_text(tokenizer, prompt, response)
    if text == expected:
        return Verdict(True, "that is exactly the text the reward model reads.")
    i = _first_difference(text, expected)
    hint = (f"the first difference is at character {i}, after {expected[max(0, i - 30):i]!r}: "
            f"you wrote {text[i:i + 15]!r}.")
    if expected[i:].startswith("<think>"):
        hint += " Qwen3's template gives every answer a think block, even an empty one."
    elif i == len(text):
        hint += " Your text stops early: how does the template close the assistant's turn?"
    return Verdict(False, hint)


def _trl_loss(chosen, rejected):
    """TRL's `RewardTrainer.compute_loss`, run on given rewards (a stand-in model returns them as logits)."""
    import torch
    from trl import RewardTrainer

    logits = torch.cat([chosen, rejected]).unsqueeze(-1)
    trainer = SimpleNamespace(model=SimpleNamespace(training=False),
                              args=SimpleNamespace(center_rewards_coefficient=None),
                              accelerator=SimpleNamespace(gather=lambda x: x, gather_for_metrics=lambda x: x),
                              _total_train_tokens=0, _tp_size=1, _metrics={"eval": defaultdict(list)})
    inputs = {"attention_mask": torch.ones(len(logits), 1)}
    return RewardTrainer.compute_loss(trainer, lambda **_: SimpleNamespace(logits=logits), inputs)


def check_bt_loss(bt_loss) -> Verdict:
    """02: `bt_loss(chosen, rejected)` (two 1-D tensors of rewards) must equal TRL's reward loss."""
    import torch

    generator = torch.Generator().manual_seed(0)
    batches = {"a batch of 8": torch.randn(2, 8, generator=generator),
               "one pair": torch.tensor([[0.3], [1.2]]),
               "large margins (+-80)": torch.tensor([[80.0, -80.0, 5.0], [-80.0, 80.0, 5.0]])}
    for name, (chosen, rejected) in batches.items():
        try:
            got = bt_loss(chosen.clone(), rejected.clone())
        except NotImplementedError:
            return Verdict(False, "fill in bt_loss: the mean over pairs of -log sigmoid(chosen - rejected).")
        except Exception as error:  # the learner's code: report any error as a hint
            return Verdict(False, f"bt_loss raised {type(error).__name__}: {error}")
        want = _trl_loss(chosen, rejected)
        if not torch.is_tensor(got) or got.numel() != 1:
            return Verdict(False, f"on {name}, return one number (a 0-d tensor): the mean over the pairs.")
        if not torch.isfinite(got):
            return Verdict(False, f"on {name} you get {got.item()}: torch.log(torch.sigmoid(x)) underflows for "
                                   "large |x|; torch.nn.functional.logsigmoid does not.")
        if torch.allclose(got, want, atol=1e-5):
            continue
        if torch.allclose(-got, want, atol=1e-5):
            return Verdict(False, "the sign is flipped: a loss must be small when chosen wins.")
        if torch.allclose(got, want * len(chosen), atol=1e-4):
            return Verdict(False, "you sum over the pairs; TRL takes the mean.")
        return Verdict(False, f"on {name} you get {got.item():.4f}, TRL's loss is {want.item():.4f}.")
    return Verdict(True, "your loss equals TRL's RewardTrainer loss on every batch (also at large margins).")


def check_blind_categories(answer, report) -> Verdict:
    """03: `answer` must be the set of categories the head alone ranks at most BLIND_AT right, from an
    `evaluation.evaluate_pairs` report (its `head_only` part when the reward has a verifier)."""
    head = report.get("head_only", report)
    blind = {c for c, row in head["by_category"].items() if row["accuracy"] <= BLIND_AT}
    if answer is None:
        return Verdict(False, "set BLIND to a set of category names, e.g. {'no_thinking'}.")
    answer = {answer} if isinstance(answer, str) else set(answer)
    if answer == blind:
        return Verdict(True, f"the head alone ranks these at most {BLIND_AT} right: {sorted(blind) or 'none'}.")
    unknown = answer - set(head["by_category"])
    if unknown:
        return Verdict(False, f"no such category: {sorted(unknown)}; the categories are {sorted(head['by_category'])}.")
    seen = sorted(answer - blind)
    if seen:
        accuracy = head["by_category"][seen[0]]["accuracy"]
        return Verdict(False, f"the head alone ranks {accuracy:.0%} of {seen[0]!r} right: it sees that one.")
    return Verdict(False, f"{len(blind - answer)} more: compare head-only accuracies per category.")


EXAMPLES = [("What is 15 + 27?", "<think>\n5 + 7 = 12, carry 1.\n1 + 2 + 1 = 4.\n</think>\n\nThe answer is 42.", "42", 1.0),
            ("What is 15 + 27?", "The answer is 32.", "42", 0.0),
            ("How much is 66 minus 34?", "<think>\n66 - 30 = 36.\n36 - 4 = 32.\n</think>\n\nThe answer is 32.", "32", 1.0),
            ("How much is 66 minus 34?", "The answer is 33.", "32", 0.0)]


def check_reward_fn(reward_fn, policy, tokenizer) -> Verdict:
    """04: TRL's GRPOTrainer must accept `reward_fn` and get 1.0 for completions containing the `answer` column
    (conversational prompts, as in notebook 04) and 0.0 otherwise. Runs TRL's own reward computation."""
    from .grpo import trl_reward_trainer, trl_rewards

    prompts, completions, answers, want = map(list, zip(*EXAMPLES))
    with tempfile.TemporaryDirectory() as folder:
        trainer = trl_reward_trainer(policy, tokenizer, [reward_fn], folder)
        try:
            got = [row[0] for row in trl_rewards(trainer, prompts, completions, answer=answers)]
        except TypeError as error:
            if "unexpected keyword argument" in str(error):
                return Verdict(False, f"{error}. TRL calls reward functions with keyword arguments only: prompts=, "
                                       "completions=, completion_ids=, trainer_state= and every dataset column "
                                       "(here answer=). Accept the rest with **kwargs.")
            return Verdict(False, f"TRL could not call it: TypeError: {error}")
        except Exception as error:  # the learner's code: report any error as a hint
            return Verdict(False, f"TRL could not call it: {type(error).__name__}: {error}")
    if got == want:
        return Verdict(True, f"TRL accepts it and gets {got}.")
    return Verdict(False, f"TRL gets {got}, expected {want}. With conversational prompts, each completion is a list of "
                           "messages, [{'role': 'assistant', 'content': ...}]: read the text from its 'content'.")


def made_up_run(rewards, golds) -> list[dict]:
    """A made-up run in `rl_demo.run_tracked`'s shape: a check every second step, None in between."""
    rows = []
    for i, (reward, gold) in enumerate(zip(rewards, golds)):
        rows.append({"step": 2 * i, "held_out_reward": reward, "gold_accuracy": gold})
        rows.append({"step": 2 * i + 1, "held_out_reward": None, "gold_accuracy": None})
    return rows[:-1]


ALARM_CASES = {   # name: (made-up run from rewards and gold accuracies at three checks, does the alarm ring)
    "reward up, gold down (hacking)": (made_up_run([0.3, 0.5, 0.6], [0.40, 0.35, 0.30]), True),
    "reward up, gold up (learning)": (made_up_run([0.3, 0.5, 0.6], [0.40, 0.42, 0.45]), False),
    "reward down, gold down (a bad run, not hacking)": (made_up_run([0.6, 0.5, 0.3], [0.40, 0.35, 0.30]), False),
    "reward up, gold the same": (made_up_run([14.0, 15.0, 16.0], [0.40, 0.30, 0.40]), False),
    "reward up, gold down in the middle only": (made_up_run([0.3, 0.4, 0.5], [0.40, 0.30, 0.45]), False)}


def check_hacking_alarm(alarm, runs) -> Verdict:
    """05: `alarm(rows)` must say whether a run of `rl_demo.run_tracked` has the signature of reward hacking: its
    reward on the held-out answers higher at the last check than at the first, and its gold accuracy lower. Tried
    on made-up runs, then on `runs` ({name: rows})."""
    cases = [(name, rows, want, None) for name, (rows, want) in ALARM_CASES.items()]
    for name, rows in runs.items():
        first, *_, last = [row for row in rows if row["gold_accuracy"] is not None]
        cases.append((f"this notebook's run {name!r}", rows, last["held_out_reward"] > first["held_out_reward"]
                      and last["gold_accuracy"] < first["gold_accuracy"], name))
    rang = []
    for name, rows, want, run in cases:
        try:
            got = alarm(rows)
        except NotImplementedError:
            return Verdict(False, "fill in hacking_alarm: compare the first and the last check.")
        except TypeError as error:
            return Verdict(False, f"{type(error).__name__}: {error}. Rows between the checks have None: keep only "
                                   "the rows whose gold_accuracy is not None.")
        except Exception as error:  # the learner's code: report any error as a hint
            return Verdict(False, f"hacking_alarm raised {type(error).__name__}: {error}")
        if type(got).__name__ not in ("bool", "bool_"):   # numpy's comparisons give numpy.bool_
            return Verdict(False, f"return True or False, got {got!r} on {name}.")
        if bool(got) != want:
            return Verdict(False, f"on {name} it says {got}, expected {want}: compare the first and the last check, "
                                   "and ring only when the reward rose AND gold accuracy fell.")
        rang += [run] if got and run else []
    return Verdict(True, f"right on every case; on this notebook's runs it rings for {', '.join(rang) or 'none'}.")
