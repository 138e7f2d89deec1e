"""Load, quantize, LoRA-wrap, save and reload reward models (where bodies come from: bodies.py).

A reward model is `AutoModelForSequenceClassification(num_labels=1)`: a language-model body
plus a linear `score` head that reads the hidden state of the last non-pad token.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .bodies import BODIES, body_path
from .device import compute_dtype, pick_device
from .files import atomic_save
from .paths import META_FILE
from .profiles import Profile, profile_from_dict

META_VERSION = 4   # 1: folders written before the version field (same layout; profiles without warmup_own_steps); 3: digit-credit verifier weights; 4: + calculator_weight (a version-3 folder reads with 0)


# ---------------------------------------------------------------- tokenizers
def load_tokenizer(profile: Profile):
    """The profile's tokenizer, with a pad token that is not the end-of-turn token."""
    from transformers import AutoTokenizer

    body = BODIES.get(profile.model)
    if body and body.tokenizer:
        return body.tokenizer(profile)
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


def _is_4bit(param) -> bool:
    return param.__class__.__name__ == "Params4bit"   # bitsandbytes' packed 4-bit weight (2 values per element)


def is_quantized(model) -> bool:
    """True for a body loaded in 4-bit (bitsandbytes), also under a LoRA wrapper."""
    return any(_is_4bit(p) for p in model.parameters())


def count_parameters(model) -> dict:
    """Trainable and total parameter counts (4-bit weights counted as their element count)."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if _is_4bit(p) else 1)
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
        (tmp / META_FILE).write_text(json.dumps({"meta_version": META_VERSION, **(meta or {}),
                                                 "profile": profile.to_dict()}, indent=2))
    return atomic_save(folder, write, overwrite=overwrite)


def read_meta(folder) -> dict:
    path = Path(folder) / META_FILE
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not a reward-model folder saved by nbhelpers (no {META_FILE}). "
                                "Train one with `python -m nbhelpers train --out DIR`.")
    meta = json.loads(path.read_text())
    version = meta.get("meta_version", 1)
    if version > META_VERSION:
        raise ValueError(f"{path} was written by a newer nbhelpers (metadata version {version}, this one reads up "
                         f"to {META_VERSION}); update the kit (git pull && make venv) to load it.")
    if "lm_weight" in (meta.get("verifier") or {}):
        raise ValueError(f"{folder} was trained by an older nbhelpers whose verifier term was the mean log-likelihood "
                         "(replaced: it preferred bare answers to real reasoning); train it again with this version.")
    return meta


def base_body(folder, profile: Profile) -> str:
    """The body a LoRA reward-model folder was trained on: the folder (or Hub id) its adapter records,
    or, where that folder is gone (another machine, a cleared cache), the same offline body made again."""
    from peft import PeftConfig

    base = PeftConfig.from_pretrained(str(folder)).base_model_name_or_path
    if profile.model in BODIES and not Path(base).exists():
        if profile.warmup_own_steps:
            raise FileNotFoundError(f"The tiny body {base}, warmed further on the training texts, is missing "
                                    "(cleared cache, or another machine); retrain the model to rebuild it.")
        base = body_path(profile)
    return base


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
        from peft import PeftModel

        body = _from_pretrained(AutoModelForSequenceClassification, base_body(folder, profile), **kwargs)
        model = PeftModel.from_pretrained(body, folder)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(folder, **kwargs)
    model.config.pad_token_id = tokenizer.pad_token_id
    if not meta.get("quantize_4bit"):
        model.to(device)
    return model.eval(), tokenizer, meta

