"""The exercise checks accept a right answer and give a hint (not a traceback) for typical wrong ones.
That the shipped solutions pass is checked by running solutions/solutions.ipynb under nbval (`make test`)."""
import pytest
import torch
import torch.nn.functional as F

from helpers import tiny_policy
from nbhelpers import exercises, formatting, grpo
from nbhelpers.tokenizer import qwen3_tokenizer

PROMPT, RESPONSE = "What is 6 * 7?", "The answer is 42."


def check(verdict, ok, hint):
    """The verdict is `ok` and its text, as a notebook shows it, contains `hint`."""
    assert bool(verdict) is ok and hint in repr(verdict) and repr(verdict).startswith("correct" if ok else "not yet")


def test_template_check():
    tokenizer = qwen3_tokenizer()
    right = formatting.format_text(tokenizer, PROMPT, RESPONSE)
    check(exercises.check_template(right, tokenizer, PROMPT, RESPONSE), True, "exactly")
    check(exercises.check_template(None, tokenizer, PROMPT, RESPONSE), False, "set `text`")
    no_think = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\nThe answer is 42.<|im_end|>\n"
    check(exercises.check_template(no_think, tokenizer, PROMPT, RESPONSE), False, "empty one")
    check(exercises.check_template(right[:-11], tokenizer, PROMPT, RESPONSE), False, "stops early")


@pytest.mark.parametrize("loss, hint", [
    (lambda c, r: -F.logsigmoid(c - r).mean(), "equals TRL"),
    (lambda c, r: -torch.log(torch.sigmoid(c - r)).mean(), "logsigmoid"),
    (lambda c, r: F.logsigmoid(c - r).mean(), "sign"),
    (lambda c, r: -F.logsigmoid(c - r).sum(), "sum"),
    (lambda c, r: -F.logsigmoid(c - r), "one number"),
    (lambda c, r: -F.logsigmoid(r - c).mean(), "TRL's loss is"),
])
def test_bt_loss_check(loss, hint):
    check(exercises.check_bt_loss(loss), hint == "equals TRL", hint)


def test_bt_loss_check_stub():
    def stub(chosen, rejected):
        raise NotImplementedError
    check(exercises.check_bt_loss(stub), False, "fill in")


def test_blind_categories_check():
    report = {"by_category": {"a": {"accuracy": 1.0}},
              "head_only": {"by_category": {"a": {"accuracy": 0.5}, "b": {"accuracy": 0.95}, "c": {"accuracy": 0.55}}}}
    check(exercises.check_blind_categories({"a", "c"}, report), True, "['a', 'c']")
    check(exercises.check_blind_categories("a", report), False, "1 more")
    check(exercises.check_blind_categories({"a", "b", "c"}, report), False, "95% of 'b'")
    check(exercises.check_blind_categories({"z"}, report), False, "no such category")
    check(exercises.check_blind_categories(None, report), False, "set BLIND")
    # without a verifier the head is the whole reward
    check(exercises.check_blind_categories(set(), {"by_category": {"a": {"accuracy": 0.9}}}), True, "none")


def test_hacking_alarm_check():
    def right(rows):
        checked = [r for r in rows if r["gold_accuracy"] is not None]
        return (checked[-1]["held_out_reward"] > checked[0]["held_out_reward"]
                and checked[-1]["gold_accuracy"] < checked[0]["gold_accuracy"])

    def stub(rows):
        raise NotImplementedError

    hacked = exercises.made_up_run([0.2, 0.4], [0.5, 0.3])
    check(exercises.check_hacking_alarm(right, {"flawed": hacked}), True, "rings for flawed")
    learned = exercises.made_up_run([0.2, 0.4], [0.3, 0.5])
    check(exercises.check_hacking_alarm(right, {"fine": learned}), True, "rings for none")
    check(exercises.check_hacking_alarm(stub, {}), False, "fill in")
    check(exercises.check_hacking_alarm(lambda rows: rows[1]["held_out_reward"] > rows[0]["held_out_reward"], {}),
          False, "None")                                                   # reads a row between the checks
    def gold_only(rows):
        return [r for r in rows if r["gold_accuracy"] is not None][-1]["gold_accuracy"] < rows[0]["gold_accuracy"]

    check(exercises.check_hacking_alarm(gold_only, {}), False, "a bad run, not hacking")
    check(exercises.check_hacking_alarm(lambda rows: 1, {}), False, "True or False")


def _text(completion):
    return completion[-1]["content"] if isinstance(completion, list) else completion


def test_reward_fn_check_runs_trl(tmp_path):
    policy, tokenizer = tiny_policy()

    def no_kwargs(completions, answer):
        return [float(a in _text(c)) for c, a in zip(completions, answer)]

    def reads_lists_as_text(completions, answer, **kwargs):
        return [float(a in c) for c, a in zip(completions, answer)]

    def right(completions, answer, **kwargs):
        return no_kwargs(completions, answer)

    check(exercises.check_reward_fn(no_kwargs, policy, tokenizer), False, "**kwargs")
    check(exercises.check_reward_fn(reads_lists_as_text, policy, tokenizer), False, "'content'")
    check(exercises.check_reward_fn(lambda completions, **kw: [1.0], policy, tokenizer), False, "returned 1 rewards")
    check(exercises.check_reward_fn(right, policy, tokenizer), True, "[1.0, 0.0, 1.0, 0.0]")
    trainer = grpo.trl_reward_trainer(policy, tokenizer, [right], tmp_path)
    assert grpo.trl_rewards(trainer, ["What is 1 + 1?"], ["2"], answer=["2"]) == [[1.0]]
