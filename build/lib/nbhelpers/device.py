"""The one place that decides device and precision, for training, scoring and RL alike.

bf16 where the hardware computes it fast (CUDA with bf16 support), float32 elsewhere: measured on
this project's 2-core CPU, LoRA forward+backward with bfloat16 compute is ~35x slower than with
float32 (also for 4-bit NF4 bodies), so bf16 on a CPU gets a warning. The Trainer flags and the
optimizer follow from the same decision.
"""
from __future__ import annotations

import warnings

# bitsandbytes' paged and 8-bit optimizers need CUDA (e.g. the GPU profile's "paged_adamw_8bit")
CUDA_ONLY_OPTIMIZER_MARKS = ("paged_", "8bit")
FALLBACK_OPTIMIZER = "adamw_torch"


def pick_device() -> str:
    """"cuda", then "mps", else "cpu"."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def bf16_is_fast(device: str) -> bool:
    import torch

    return device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def compute_dtype(device: str, requested: str | None = None):
    """bf16 where it is fast (CUDA), float32 elsewhere, unless `requested` ("float32" / "bfloat16")."""
    import torch

    if requested:
        dtype = getattr(torch, requested, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"dtype {requested!r} is not a torch dtype; use 'float32' or 'bfloat16'.")
        if device == "cpu" and dtype in (torch.bfloat16, torch.float16):
            warnings.warn(f"{requested} on a CPU is usually far slower than float32 (measured ~35x for "
                          "bfloat16 on a 2-core x86 CPU); use dtype='float32' (--set dtype=float32) on CPU.",
                          stacklevel=2)
        return dtype
    return torch.bfloat16 if bf16_is_fast(device) else torch.float32


def trainer_precision(device: str) -> dict:
    """The TrainingArguments fields that follow from the device (Reward/GRPO/RLOO configs alike)."""
    return {"bf16": bf16_is_fast(device), "use_cpu": device == "cpu"}


def optimizer_for(optim: str, device: str) -> str:
    """`optim`, or adamw_torch with a warning when it needs CUDA and the device is not CUDA."""
    if device != "cuda" and any(mark in optim for mark in CUDA_ONLY_OPTIMIZER_MARKS):
        warnings.warn(f"optimizer {optim!r} needs CUDA (bitsandbytes); training on {device} with "
                      f"{FALLBACK_OPTIMIZER!r} instead.", stacklevel=2)
        return FALLBACK_OPTIMIZER
    return optim
