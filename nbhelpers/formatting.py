"""The one formatting function: (prompt, response) -> the exact text and tokens a reward model sees.

Training, scoring, evaluation and the GRPO reward function all call `format_text` /
`encode`, so a pair is tokenized identically everywhere. Tokenizers with a chat template get
a user turn and an assistant turn; tokenizers without one (BERT-style encoders such as
MiniLM) get the plain layout `PLAIN_LAYOUT`.
"""
from __future__ import annotations

PLAIN_LAYOUT = "Question: {prompt}\n\nAnswer: {response}"


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


def prompt_text(prompt) -> str:
    """Text of a prompt given as a string or as a list of messages (last user turn)."""
    if isinstance(prompt, (list, tuple)):
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return as_text(users[-1]) if users else ""
    return as_text(prompt)


def format_text(tokenizer, prompt, response, system: str | None = None) -> str:
    """Render one (prompt, response) pair as the model's input text."""
    prompt, response = prompt_text(prompt), as_text(response)
    if not getattr(tokenizer, "chat_template", None):
        return PLAIN_LAYOUT.format(prompt=prompt, response=response)
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return tokenizer.apply_chat_template(messages, tokenize=False)


def pad_right(seqs: list[list[int]], pad_id: int, device=None):
    """(input_ids, attention_mask) tensors: id lists padded on the right to the longest one."""
    import torch

    width = max(map(len, seqs))
    input_ids = torch.tensor([s + [pad_id] * (width - len(s)) for s in seqs], device=device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=device)
    return input_ids, mask


def keep_last(ids: list[int], max_length: int | None) -> list[int]:
    """The truncation rule of the kit: longer texts keep their LAST max_length tokens (the reward
    head reads the final token, so the end of the response is what must survive)."""
    return ids[-max_length:] if max_length and len(ids) > max_length else ids


def encode(tokenizer, prompt, response, system: str | None = None, max_length: int | None = None) -> list[int]:
    """Token ids of `format_text(...)`; what both RewardTrainer and every scorer consume,
    truncated by `keep_last` when `max_length` is given."""
    return keep_last(tokenizer(format_text(tokenizer, prompt, response, system))["input_ids"], max_length)
