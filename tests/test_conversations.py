"""Conversations keep every turn, rendered by Qwen3's own template, the same way in training, scoring,
the verifier, the CLI and the GRPO reward function; too-long conversations lose their oldest turns first."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nbhelpers.data import validate
from nbhelpers.formatting import PLAIN_LAYOUT, encode, format_text, render
from nbhelpers.grpo import make_reward_fn
from nbhelpers.modeling import load_for_training, save_reward_model
from nbhelpers.scoring import RewardScorer
from nbhelpers.tokenizer import qwen3_tokenizer
from nbhelpers.training import tokenize_pairs

from helpers import write_jsonl

U, A, S = "<|im_start|>user\n", "<|im_start|>assistant\n", "<|im_start|>system\n"
E = "<|im_end|>\n"
# Two conversations whose last user message alone means nothing: only the earlier turns say what "yep" answers.
PIZZA = [{"role": "user", "content": "Is 91 a prime number?"}, {"role": "assistant", "content": "Shall I check?"},
         {"role": "user", "content": "yep"}]
CAKE = [{"role": "user", "content": "Is 97 a prime number?"}, {"role": "assistant", "content": "Shall I check?"},
        {"role": "user", "content": "yep"}]


@pytest.fixture(scope="module")
def tok():
    return qwen3_tokenizer()


def test_the_template_is_qwen3s_own_from_the_installed_trl(tok):
    import trl

    shipped = (Path(trl.__file__).parent / "chat_templates" / "qwen3.jinja").read_text()
    assert tok.chat_template == shipped


# Qwen3's layout, written out by hand: thinking re-rendered as "<think>\n...\n</think>\n\n", an empty think
# block for a reply without thinking, and the thinking of turns before the last user message dropped.
LAYOUTS = [
    ("thinking", "Q", "<think>\nT\n</think>\n\nA", U + "Q" + E + A + "<think>\nT\n</think>\n\nA" + E),
    ("no thinking", "Q", "A", U + "Q" + E + A + "<think>\n\n</think>\n\nA" + E),
    ("2507 style: no opening <think>", "Q", "T</think>A", U + "Q" + E + A + "<think>\nT\n</think>\n\nA" + E),
    ("system", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q"}], "A",
     S + "Be brief." + E + U + "Q" + E + A + "<think>\n\n</think>\n\nA" + E),
    ("multi-turn: earlier thinking dropped",
     [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "<think>\nold\n</think>\n\nA1"},
      {"role": "user", "content": "Q2"}], "<think>\nnew\n</think>\n\nA2",
     U + "Q1" + E + A + "A1" + E + U + "Q2" + E + A + "<think>\nnew\n</think>\n\nA2" + E),
]


@pytest.mark.parametrize("name,prompt,response,expected", LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_layout_matches_qwen3(tok, name, prompt, response, expected):
    assert format_text(tok, prompt, response) == expected


def test_plain_layout_keeps_earlier_turns(tok):
    plain = qwen3_tokenizer()
    plain.chat_template = None
    assert format_text(plain, "Q", "A") == PLAIN_LAYOUT.format(prompt="Q", response="A")
    assert format_text(plain, PIZZA, "No.") == ("User: Is 91 a prime number?\n\nAssistant: Shall I check?\n\n"
                                               + PLAIN_LAYOUT.format(prompt="yep", response="No."))


def test_every_turn_reaches_the_model(tok):
    assert encode(tok, PIZZA, "No, 91 = 7 x 13.") != encode(tok, CAKE, "No, 91 = 7 x 13.")
    assert "Is 91 a prime number?" in format_text(tok, PIZZA, "No.")


def test_response_start_is_the_first_token_of_the_reply(tok):
    seen = render(tok, PIZZA, "<think>\n91 = 7 x 13\n</think>\n\nNo.", offsets=True)
    assert tok.decode(seen.ids[seen.response_start:]).startswith("<think>\n91 = 7 x 13")
    assert tok.decode(seen.ids[:seen.response_start]).endswith("yep<|im_end|>\n<|im_start|>assistant\n")


def test_too_long_conversation_keeps_the_reply_and_the_latest_turns(tok):
    system = {"role": "system", "content": "Be brief."}
    long = [system] + [{"role": role, "content": f"turn {k} " + "word " * 20}
                       for k, role in enumerate(["user", "assistant"] * 3)] + [{"role": "user", "content": "yep"}]
    full = render(tok, long, "The reply.")
    cut = render(tok, long, "The reply.", max_length=len(full.ids) - 10)
    assert len(cut.ids) <= len(full.ids) - 10 and cut.dropped_turns >= 1 and cut.cut_tokens == 0
    assert cut.text.startswith(S + "Be brief.") and "turn 0" not in cut.text and "yep" in cut.text
    assert cut.text.endswith("The reply." + E)
    tiny = render(tok, long, "The reply.", max_length=8)   # even the last turn does not fit: keep the end
    assert len(tiny.ids) == 8 and tiny.cut_tokens > 0 and tok.decode(tiny.ids).endswith("The reply." + E)


def test_training_reports_what_was_cut(tok, capsys):
    pair = {"prompt": PIZZA, "chosen": "No, 91 = 7 x 13.", "rejected": "Yes."}
    short = len(encode(tok, PIZZA, pair["chosen"])) - 3
    rows = tokenize_pairs([pair], tok, max_length=short, truncate=True)
    assert rows[0]["chosen_ids"] == encode(tok, PIZZA, pair["chosen"], short)
    assert "earliest turns left out in 1 pairs" in capsys.readouterr().err


@pytest.fixture(scope="module")
def model_dir(tiny_profile, tmp_path_factory):
    model, tok = load_for_training(tiny_profile, [])
    out = tmp_path_factory.mktemp("rm") / "model"
    save_reward_model(model, tok, tiny_profile, out)
    return out


def test_scorer_cli_reward_function_and_training_read_the_same_conversation(tiny_profile, model_dir, tmp_path):
    scorer = RewardScorer.from_folder(model_dir)
    reply = "<think>\n91 = 7 x 13\n</think>\n\nNo."
    rewards = scorer.score_batch([PIZZA, CAKE], [reply, reply])
    assert rewards[0] != rewards[1], "the earlier turns must change the reward"
    assert scorer.score_batch(["yep"], [reply])[0] not in rewards
    # GRPO: TRL passes conversational prompts as message lists and completions as [assistant message]
    reward_fn = make_reward_fn(scorer)
    assert reward_fn(prompts=[PIZZA, CAKE], completions=[[{"role": "assistant", "content": reply}]] * 2) == \
        pytest.approx(rewards, abs=1e-5)
    # training tokenizes the pair as the scorer does
    pair = {"prompt": PIZZA, "chosen": reply, "rejected": "Yes."}
    assert tokenize_pairs([pair], scorer.tokenizer, tiny_profile.max_length)[0]["chosen_ids"] == scorer.encode(PIZZA, reply)
    # the CLI's score rows: a conversation prompt, a reply as text or as an assistant message
    rows = [{"prompt": PIZZA, "response": reply}, {"prompt": CAKE, "response": [{"role": "assistant", "content": reply}]}]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    assert validate(str(tmp_path / "rows.jsonl"), responses=True)[1] == []
    out = subprocess.run([sys.executable, "-m", "nbhelpers", "score", "--model", str(model_dir), "--data",
                          str(tmp_path / "rows.jsonl")], capture_output=True, text=True, check=True).stdout
    assert [json.loads(line)["reward"] for line in out.splitlines()] == pytest.approx(rewards, abs=1e-5)
