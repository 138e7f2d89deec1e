"""Split a completion into its thinking and its answer at the LAST `</think>`.

Qwen3-Thinking-2507's chat template opens the `<think>` block itself, so completions it
generates may hold `</think>` with no `<think>`; other completions have no block at all.
"""
from __future__ import annotations

import re

THINK_START, THINK_END = "<think>", "</think>"
NUMBER = re.compile(r"-?\d+")


def think_end_id(tokenizer) -> int | None:
    """Id of `</think>` if the tokenizer has it as one token (151668 for Qwen3), else None."""
    token_id = tokenizer.convert_tokens_to_ids(THINK_END)
    return None if token_id is None or token_id == tokenizer.unk_token_id else token_id


def split_thinking(text: str) -> tuple[str | None, str]:
    """Return (thinking, answer). thinking is None when there is no `</think>`."""
    head, sep, answer = text.rpartition(THINK_END)
    if not sep:
        return None, text.strip()
    thinking = head.split(THINK_START, 1)[1] if THINK_START in head else head
    return thinking.strip(), answer.strip()


def split_thinking_ids(ids: list[int], tokenizer) -> tuple[list[int], list[int]]:
    """Token-level split after the last `</think>` id (looked up, never hard-coded).

    Returns (ids up to and including `</think>`, ids after it). Without the token in the
    vocabulary or in `ids`, everything is answer.
    """
    end = think_end_id(tokenizer)
    if end is None or end not in ids:
        return [], list(ids)
    cut = len(ids) - ids[::-1].index(end)
    return list(ids[:cut]), list(ids[cut:])


def select_part(response: str, part: str = "both") -> str:
    """The text a scorer sees for `part`: "both" (as is), "answer" or "thinking"."""
    if part == "both":
        return response
    thinking, answer = split_thinking(response)
    if part == "answer":
        return answer
    if part == "thinking":
        return f"{THINK_START}\n{thinking or ''}\n{THINK_END}"
    raise ValueError(f"part must be 'both', 'answer' or 'thinking', not {part!r}")


def has_closed_thinking(text: str) -> bool:
    """True if the completion closes a non-empty thinking block (a common GRPO format reward)."""
    thinking, answer = split_thinking(text)
    return bool(thinking) and bool(answer)


def final_answer(text: str) -> int | None:
    """The last number after the last `</think>` (in the whole text if there is no thinking block), or None
    (no number, or a `<think>` never closed: the completion stopped before it answered)."""
    _, closed, answer = text.rpartition(THINK_END)
    if not closed and THINK_START in answer:
        return None
    numbers = NUMBER.findall(answer)
    return int(numbers[-1]) if numbers else None
