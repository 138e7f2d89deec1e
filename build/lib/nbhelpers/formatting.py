"""The one formatting function: (prompt, response) -> the exact text and tokens a reward model sees.

A prompt is a string (one user turn) or a conversation: a list of messages `{"role": "system" | "user" |
"assistant", "content": ...}`, every turn kept. Training, scoring, evaluation and the GRPO reward function
all call `render` (or `format_text` / `encode`), so a pair is tokenized identically everywhere.

Tokenizers with a chat template render the conversation with the response as the final assistant turn (the
offline Qwen3 tokenizer uses Qwen3's own template: tokenizer.py). Tokenizers without one (BERT-style encoders
such as MiniLM) get a plain layout: earlier turns as "User: ..." / "Assistant: ..." paragraphs, then
`PLAIN_LAYOUT` for the last one.

Too long for `max_length`: the oldest turns go first (a system message stays); if the last turns still do
not fit, the text keeps its LAST max_length tokens (a decoder's reward head reads the final token, so the end
of the response must survive); an encoder's leading [CLS], which its head reads, stays in front of them.
`render` says what it cut.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

PLAIN_LAYOUT = "Question: {prompt}\n\nAnswer: {response}"
PLAIN_TURN = "{role}: {content}\n\n"


def as_text(content) -> str:
    """Text of a plain string, a message dict or a list of messages (last assistant turn)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return as_text(content.get("content"))
    if isinstance(content, (list, tuple)):
        turns = [m for m in content if isinstance(m, dict)]
        assistant = [m for m in turns if m.get("role") == "assistant"]
        return as_text((assistant or turns or [None])[-1])
    return str(content)


def messages_of(prompt) -> list[dict]:
    """The prompt as chat messages: a string is one user turn; a list of messages is kept whole."""
    if prompt is None or isinstance(prompt, str):
        return [{"role": "user", "content": prompt or ""}]
    if isinstance(prompt, dict):
        prompt = [prompt]
    return [{"role": m.get("role", "user"), "content": as_text(m.get("content"))} for m in prompt if isinstance(m, dict)]


def _plain(messages, response: str) -> str:
    earlier = "".join(PLAIN_TURN.format(role=m["role"].capitalize(), content=m["content"]) for m in messages[:-1])
    return earlier + PLAIN_LAYOUT.format(prompt=messages[-1]["content"] if messages else "", response=response)


def format_text(tokenizer, prompt, response) -> str:
    """Render the conversation `prompt` with `response` as the last assistant turn: the model's input text."""
    messages, response = messages_of(prompt), as_text(response)
    if not getattr(tokenizer, "chat_template", None):
        return _plain(messages, response)
    return tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)


def _prompt_part(tokenizer, messages) -> str:
    """The text before the response: the conversation and the opening of the assistant turn."""
    if not getattr(tokenizer, "chat_template", None):
        return _plain(messages, "")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@dataclass
class Rendered:
    """What the model reads for one (prompt, response)."""
    text: str                   # the text of the kept turns, before the token cut
    ids: list[int]              # the token ids read (at most max_length)
    dropped_turns: int = 0      # oldest prompt messages left out to fit max_length
    cut_tokens: int = 0         # tokens then cut from the start of the text (after the `kept_first` ones)
    kept_first: int = 0         # tokens kept before the cut: an encoder's [CLS]
    offsets: list | None = None     # (first, end) character of each id in `text` (with offsets=True)
    response_start: int | None = None   # index in ids of the response's first token (with offsets=True)


def render(tokenizer, prompt, response, max_length: int | None = None, offsets: bool = False) -> Rendered:
    """Text and token ids of (prompt, response) cut to max_length by the kit's rule (module doc). With
    `offsets` (fast tokenizers), also the character offsets and where the response starts."""
    messages, dropped = messages_of(prompt), 0
    while True:
        text = format_text(tokenizer, messages, response)
        encoded = tokenizer(text, return_offsets_mapping=offsets)
        ids = encoded["input_ids"]
        oldest = [i for i, m in enumerate(messages) if m["role"] != "system"]
        if not max_length or len(ids) <= max_length or len(oldest) <= 1:
            break
        messages = messages[:oldest[0]] + messages[oldest[0] + 1:]
        dropped += 1
    cut = len(ids) - max_length if max_length and len(ids) > max_length else 0
    lead = 1 if cut and ids[0] == getattr(tokenizer, "cls_token_id", None) else 0   # an encoder's head reads [CLS]
    out = Rendered(text, ids[:lead] + ids[lead + cut:], dropped, cut, lead)
    if offsets:
        spans = [tuple(o) for o in encoded["offset_mapping"]]
        out.offsets = spans[:lead] + spans[lead + cut:]
        begin = len(os.path.commonprefix([_prompt_part(tokenizer, messages), text]))
        out.response_start = next((j for j, (_, end) in enumerate(out.offsets) if end > begin), len(out.ids))
    return out


def encode(tokenizer, prompt, response, max_length: int | None = None) -> list[int]:
    """Token ids of (prompt, response) as every trainer and scorer of the kit reads them (`render`)."""
    return render(tokenizer, prompt, response, max_length).ids


def pad_right(seqs: list[list[int]], pad_id: int, device=None):
    """(input_ids, attention_mask) tensors: id lists padded on the right to the longest one."""
    import torch

    width = max(map(len, seqs))
    input_ids = torch.tensor([s + [pad_id] * (width - len(s)) for s in seqs], device=device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=device)
    return input_ids, mask
