"""A back-of-the-envelope ESTIMATE of training memory for a decoder reward model.

Nothing here is measured on a GPU. The formula counts, for one training step:

* weights: bf16 (2 bytes per parameter), or bitsandbytes 4-bit NF4. bitsandbytes quantizes
  `nn.Linear` layers only (here the seven projections of every layer); the `score` head is
  skipped by transformers. NF4 stores 0.5 byte per weight plus quantization constants: one
  absmax per block of 64 weights, itself 8-bit with double quantization (+ one fp32 per 256
  blocks), else fp32. Everything that is not quantized (the 151,936 x 2560 embedding, the
  norms) is cast to float32 by PEFT's `prepare_model_for_kbit_training`.
* trainable parameters (LoRA A/B on the targeted projections + the score head, or every
  parameter for full fine-tuning), their gradients, and optimizer state: AdamW keeps two fp32
  moments (8 bytes per parameter); bitsandbytes' paged 8-bit AdamW keeps two 8-bit moments
  (2 bytes per parameter plus a small blockwise scale).
* activations saved for the backward pass, per token and layer (see `activation_bytes`); with
  gradient checkpointing only each layer's input is kept, plus one layer recomputed at a time.
  Attention is assumed memory-efficient (flash / SDPA mem-efficient kernels: no T x T matrix);
  pass `attention_matrix=True` for the eager/math path that keeps the softmax probabilities.
* a fixed overhead (CUDA context, allocator fragmentation) of `overhead_gib`.

`benchmarks/bench_memory.py` checks the formula on CPU against measured peak memory of small
random Qwen3 models (float32); see BENCHMARKS.md.
"""
from __future__ import annotations

from dataclasses import dataclass

GIB = 1024 ** 3
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# Qwen/Qwen3-4B-Thinking-2507 (config.json of the Qwen3-4B family)
QWEN3_4B = dict(hidden_size=2560, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                head_dim=128, intermediate_size=9728, vocab_size=151936, tie_word_embeddings=True)


@dataclass(frozen=True)
class Arch:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = True

    @classmethod
    def from_config(cls, config) -> "Arch":
        """From a dict or a transformers config (Qwen3/Llama-style decoder)."""
        get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
        heads = get("num_attention_heads")
        return cls(get("hidden_size"), get("num_hidden_layers"), heads, get("num_key_value_heads") or heads,
                   get("head_dim") or get("hidden_size") // heads, get("intermediate_size"), get("vocab_size"),
                   bool(get("tie_word_embeddings", True)))

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection of one layer."""
        h, q, kv, i = self.hidden_size, self.num_attention_heads * self.head_dim, \
            self.num_key_value_heads * self.head_dim, self.intermediate_size
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def parameter_counts(self, num_labels: int = 1) -> dict[str, int]:
        """Linear (quantizable) and other parameters of a sequence-classification model."""
        linear = self.num_hidden_layers * sum(a * b for a, b in self.linear_shapes().values())
        norms = self.num_hidden_layers * (2 * self.hidden_size + 2 * self.head_dim) + self.hidden_size
        embed = self.vocab_size * self.hidden_size
        score = self.hidden_size * num_labels
        return {"linear": linear, "embedding": embed, "norms": norms, "score": score,
                "total": linear + embed + norms + score}


def nf4_bytes_per_weight(double_quant: bool = True, blocksize: int = 64) -> float:
    """Bytes per weight of a bitsandbytes NF4 tensor, quantization constants included."""
    if double_quant:   # 8-bit absmax per block + fp32 absmax (and offset) per 256 blocks
        return 0.5 + 1 / blocksize + 4 / (blocksize * 256)
    return 0.5 + 4 / blocksize


def lora_parameters(arch: Arch, r: int, target_modules=PROJECTIONS) -> int:
    return arch.num_hidden_layers * sum(r * (a + b) for name, (a, b) in arch.linear_shapes().items()
                                        if name in target_modules)


def activation_bytes(arch: Arch, tokens: int, dtype_bytes: int, lora_r: int | None = None,
                     target_modules=PROJECTIONS, gradient_checkpointing: bool = False,
                     seq_len: int | None = None, attention_matrix: bool = False) -> dict[str, float]:
    """Activations kept for backward, summed over the batch (`tokens` = batch x seq).

    Per layer and token (a = bytes of the compute dtype): two RMSNorms (float32 upcast of the
    input and the normalized float32 tensor, 8 bytes x hidden each, plus the a-byte output the
    projections read), q/k RMSNorm over head_dim and RoPE (float32 + 3 copies in a per head),
    the attention inputs and output, the MLP (gate out, SiLU out, up out, product: 4 x a x
    intermediate), and per LoRA projection its r-wide intermediate.
    """
    a, h, d = dtype_bytes, arch.hidden_size, arch.head_dim
    qd, kvd = arch.num_attention_heads * d, arch.num_key_value_heads * d
    extra_norm = 0 if a == 4 else 4       # a float32 upcast is a copy only when the compute dtype is not fp32
    norm = (4 + extra_norm) * h + a * h
    qk = (4 + extra_norm + 3 * a) * (qd + kvd)
    attn = a * (qd + 2 * kvd) + a * qd + a * qd + 4 * arch.num_attention_heads   # q,k,v, out, o_proj in, lse
    mlp = 4 * a * arch.intermediate_size
    lora = a * lora_r * sum(1 for n in arch.linear_shapes() if n in target_modules) if lora_r else 0
    per_token_layer = 2 * norm + qk + attn + mlp + lora
    per_layer = per_token_layer * tokens
    if attention_matrix and seq_len:
        per_layer += a * arch.num_attention_heads * seq_len * tokens       # softmax probabilities
    outside = (a + 8) * h * tokens                                         # embeddings out + final norm
    if gradient_checkpointing:
        kept = arch.num_hidden_layers * a * h * tokens + per_layer        # layer inputs + one recomputed layer
    else:
        kept = arch.num_hidden_layers * per_layer
    return {"per_token_per_layer": per_token_layer, "activations": kept + outside}


def estimate(config=QWEN3_4B, batch: int = 2, seq: int = 1024, quantize_4bit: bool = True,
             lora_r: int | None = 16, target_modules=PROJECTIONS, gradient_checkpointing: bool = True,
             optim: str = "paged_adamw_8bit", compute_bytes: int = 2, trainable_bytes: int | None = None,
             double_quant: bool = True, attention_matrix: bool = False, overhead_gib: float = 0.0) -> dict:
    """Bytes of each part of one training step's peak (an ESTIMATE). Returns a dict of bytes + "total"."""
    arch = config if isinstance(config, Arch) else Arch.from_config(config)
    counts = arch.parameter_counts()
    if quantize_4bit:
        # Linear layers in NF4; the rest is cast to float32 by prepare_model_for_kbit_training
        weights = counts["linear"] * nf4_bytes_per_weight(double_quant) \
            + 4 * (counts["embedding"] + counts["norms"] + counts["score"])
    else:
        weights = compute_bytes * counts["total"]
    if lora_r:
        trainable = lora_parameters(arch, lora_r, target_modules) + counts["score"]
    else:
        trainable = counts["total"]
    tb = trainable_bytes or compute_bytes          # TRL keeps QLoRA adapters in bf16 on CUDA
    optim_bytes = {"paged_adamw_8bit": 2 + 2 * 4 / 2048, "adamw_8bit": 2 + 2 * 4 / 2048}.get(optim, 8)
    act = activation_bytes(arch, batch * seq, compute_bytes, lora_r, target_modules, gradient_checkpointing,
                           seq, attention_matrix)["activations"]
    # full fine-tuning: the trainable parameters are the weights (counted once, under "weights")
    parts = {"weights": weights, "trainable_params": trainable * tb if lora_r else 0, "gradients": trainable * tb,
             "optimizer_state": trainable * optim_bytes, "activations": act, "overhead": overhead_gib * GIB}
    parts["total"] = sum(parts.values())
    parts["n_trainable"] = trainable
    parts["n_total"] = counts["total"]
    return parts


def profile_estimates(profile, batch: int | None = None, seq: int | None = None, config=None) -> list[dict]:
    """Rows (label, parts) comparing the profile's set-up with bf16 / without checkpointing / AdamW."""
    batch = batch or profile.batch_size
    seq = seq or profile.max_length
    config = config or QWEN3_4B
    r = profile.lora["r"] if profile.lora else None
    targets = profile.lora.get("target_modules", PROJECTIONS) if profile.lora else PROJECTIONS
    common = dict(config=config, batch=batch, seq=seq, lora_r=r, target_modules=targets, compute_bytes=2)
    rows = [
        ("profile: 4-bit NF4 + LoRA, checkpointing, paged 8-bit AdamW",
         dict(quantize_4bit=True, gradient_checkpointing=True, optim="paged_adamw_8bit")),
        ("4-bit NF4 + LoRA, no checkpointing", dict(quantize_4bit=True, gradient_checkpointing=False,
                                                    optim="paged_adamw_8bit")),
        ("4-bit NF4 + LoRA, checkpointing, AdamW fp32", dict(quantize_4bit=True, gradient_checkpointing=True,
                                                            optim="adamw_torch")),
        ("bf16 + LoRA, checkpointing, paged 8-bit AdamW", dict(quantize_4bit=False, gradient_checkpointing=True,
                                                              optim="paged_adamw_8bit")),
        ("bf16 + LoRA, no checkpointing, AdamW fp32", dict(quantize_4bit=False, gradient_checkpointing=False,
                                                          optim="adamw_torch")),
        ("bf16 full fine-tuning, checkpointing, AdamW fp32", dict(quantize_4bit=False, gradient_checkpointing=True,
                                                                 optim="adamw_torch", lora_r=None)),
    ]
    out = []
    for label, kw in rows:
        out.append({"label": label, **estimate(**{**common, **kw})})
    return out


def fix_savings(profile, batch: int | None = None, seq: int | None = None, config=None) -> list[dict]:
    """Rows (label, parts, "saves": bytes less than the row above) from naive bf16 full fine-tuning to the
    profile's set-up and beyond, one out-of-memory fix per row, each added to the row above (so what a fix
    saves depends on the fixes before it: a smaller batch saves much less once checkpointing is on).
    The row that matches the profile's own set-up says so."""
    batch = batch or profile.batch_size
    seq = seq or profile.max_length
    r = profile.lora["r"] if profile.lora else 16
    targets = profile.lora.get("target_modules", PROJECTIONS) if profile.lora else PROJECTIONS
    setup = dict(config=config or QWEN3_4B, batch=batch, seq=seq, lora_r=None, target_modules=targets,
                 compute_bytes=2, quantize_4bit=False, gradient_checkpointing=False, optim="adamw_torch")
    fixes = [("bf16 full fine-tuning, AdamW fp32 (no fix)", {}),
             (f"+ LoRA r={r} (train adapters + head only)", dict(lora_r=r)),
             ("+ 4-bit NF4 body (QLoRA)", dict(quantize_4bit=True)),
             ("+ gradient checkpointing", dict(gradient_checkpointing=True)),
             ("+ paged 8-bit AdamW", dict(optim="paged_adamw_8bit"))]
    if batch > 1:
        fixes.append((f"+ batch {batch // 2} (grad_accum x2 keeps the effective batch)", dict(batch=batch // 2)))
    fixes.append((f"+ max_length {seq // 2} (longer pairs are cut)", dict(seq=seq // 2)))
    own = dict(lora_r=profile.lora and r, quantize_4bit=profile.quantize_4bit, optim=profile.optim,
               gradient_checkpointing=profile.gradient_checkpointing, batch=profile.batch_size, seq=profile.max_length)
    rows, previous = [], None
    for label, change in fixes:
        setup.update(change)
        parts = estimate(**setup)
        mine = all(setup[k] == v for k, v in own.items())
        rows.append({"label": label + (f" = profile {profile.name}" if mine else ""), **parts,
                     "saves": previous - parts["total"] if previous else None})
        previous = parts["total"]
    return rows


def format_table(rows: list[dict], batch: int, seq: int) -> str:
    """A markdown table of estimate rows in GiB (with a "saves" column when the rows have one)."""
    cols = ["weights", "trainable_params", "gradients", "optimizer_state", "activations", "total"]
    head = ["set-up (ESTIMATE, GiB)", "weights", "LoRA/params", "grads", "optimizer", "activations", "total"]
    if all("saves" in row for row in rows):
        cols, head = cols + ["saves"], head + ["saves"]
    lines = [f"ESTIMATE (formula, not measured on a GPU) for batch {batch} x seq {seq}; "
             "excludes CUDA context/fragmentation (add ~0.5-1 GiB)",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + row["label"] + " | " + " | ".join("-" if row[c] is None else f"{row[c] / GIB:.2f}"
                                                            for c in cols) + " |")
    return "\n".join(lines)


def report(profile, batch: int | None = None, seq: int | None = None) -> str:
    """The ESTIMATE tables `python -m nbhelpers memory` prints: set-ups compared, then what each fix saves."""
    batch, seq = batch or profile.batch_size, seq or profile.max_length
    return (f"profile {profile.name} ({profile.model})\n"
            f"{format_table(profile_estimates(profile, batch, seq), batch, seq)}\n\n"
            f"What each fix saves, added one at a time from the top:\n"
            f"{format_table(fix_savings(profile, batch, seq), batch, seq)}")
