"""Causal-LM warm-up of a tiny body: next-token prediction on reasoning texts.

The classic order is "pretrain/SFT, then reward model": a body that has read the reasoning
texts represents arithmetic steps, so the reward head has something to read. The texts use a
few hundred of Qwen3's 151,936 token ids, so the warm-up trains only those embedding rows
(tied input/output embeddings, softmax over the ids that occur): the other rows would get zero
gradient anyway, and skipping them makes each step many times cheaper on a CPU.

A warm-up measures its own cost and prints it before it starts, and saves a checkpoint every
`CHECKPOINT_EVERY` steps: an interrupted run (timeout, Ctrl-C, kill -9) continues from there.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .files import atomic_write
from .formatting import pad_right
from .setup import progress

CHECKPOINT_EVERY = 250   # steps; ~1 minute of a 2-core CPU
VOCAB_ATTR = "warmup_vocab"   # the body's config records the token ids its warm-up trained
GRAD_CLIP = 1.0
WARMUP_FRACTION = 0.1    # of the one-cycle schedule spent ramping the learning rate up


def warm_up_lm(model, tokenizer, texts: list[str], steps: int, seed: int = 0, batch_size: int = 16,
               lr: float = 2e-3, checkpoint: Path | None = None, checkpoint_every: int = CHECKPOINT_EVERY,
               what: str = "LM warm-up") -> list[float]:
    """Train `model` (a *ForCausalLM with tied embeddings) for `steps` steps of next-token
    prediction on `texts`; return the losses. The trained token ids (with those of an earlier
    warm-up) are stored in `model.config.warmup_vocab`, so a likelihood verifier uses the same softmax."""
    ids = [tokenizer(t)["input_ids"] for t in texts]
    earlier = trained_vocab(model) or []
    vocab = torch.tensor(sorted({i for seq in ids for i in seq} | set(earlier)))
    to_local = torch.full((model.config.vocab_size,), -1, dtype=torch.long)
    to_local[vocab] = torch.arange(len(vocab))
    embedding = model.get_input_embeddings()
    rows = torch.nn.Parameter(embedding.weight.detach()[vocab].clone())
    body = [p for p in model.parameters() if p is not embedding.weight]
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW([rows, *body], lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=WARMUP_FRACTION)
    model.train()

    def loss_of(batch):
        local, mask = pad_right([to_local[s].tolist() for s in batch], 0)
        hidden = model.model(inputs_embeds=rows[local], attention_mask=mask).last_hidden_state[:, :-1]
        targets = local[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        return F.cross_entropy((hidden @ rows.T).reshape(-1, len(vocab)), targets.reshape(-1), ignore_index=-100)

    losses, done = [], 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        with torch.no_grad():
            rows.copy_(state["rows"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        rng.setstate(state["rng"])
        losses, done = state["losses"], state["step"]
        print(f"{what}: continuing from the checkpoint at step {done} of {steps} ({checkpoint})", flush=True)
    else:
        per_step = _seconds_per_step(loss_of, ids, batch_size, body + [rows])
        tokens = sum(map(len, ids))
        print(f"{what}: {steps:,} steps of {batch_size} texts ({len(ids):,} texts, {tokens:,} tokens, "
              f"{len(vocab):,} token ids); measured {per_step:.2f} s per step here, so about "
              f"{_duration(steps * per_step)}. Checkpointed every {checkpoint_every} steps"
              + (f" to {checkpoint}" if checkpoint else "") + ".", flush=True)
    bar = progress(range(done, steps), desc=what, initial=done, total=steps)
    for step in bar:
        loss = loss_of(rng.sample(ids, min(batch_size, len(ids))))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([rows, *body], GRAD_CLIP)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if checkpoint is not None and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            _save_checkpoint(checkpoint, model, rows, optimizer, schedule, rng, losses, step + 1)
    with torch.no_grad():
        embedding.weight[vocab] = rows
    setattr(model.config, VOCAB_ATTR, vocab.tolist())
    model.eval()
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return losses


def untied_state(model) -> dict:
    """The model's state dict without the (tied) embedding matrix: 151,936 rows a warm-up mostly leaves alone."""
    embedding = model.get_input_embeddings().weight
    return {k: v for k, v in model.state_dict().items() if v.data_ptr() != embedding.data_ptr()}


def trained_vocab(model) -> list[int] | None:
    """Token ids a warm-up trained (their embedding rows are meaningful; the others are random),
    read from the config of `model` or of the base model under its LoRA wrapper; None if no warm-up."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base.config, VOCAB_ATTR, None)


def _seconds_per_step(loss_of, ids, batch_size, params) -> float:
    """Time two forward+backward passes on the first batch of texts (no optimizer step, gradients
    cleared, the sampling RNG untouched): one step's cost on this machine."""
    batch = ids[:batch_size]
    start = time.time()
    for _ in range(2):
        loss_of(batch).backward()
    for p in params:
        p.grad = None
    return (time.time() - start) / 2


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _save_checkpoint(path, model, rows, optimizer, schedule, rng, losses, step) -> None:
    state = {"model": untied_state(model), "rows": rows.detach(), "optimizer": optimizer.state_dict(),
             "schedule": schedule.state_dict(), "rng": rng.getstate(), "losses": losses, "step": step}
    atomic_write(path, lambda tmp: torch.save(state, tmp))
