"""Causal-LM warm-up of a freshly built tiny body on the training texts.

The classic order is "pretrain/SFT, then reward model": a body that has read the reasoning
texts represents arithmetic steps, so the reward head has something to read. The texts use a
few hundred of Qwen3's 151,936 token ids, so the warm-up trains only those embedding rows
(tied input/output embeddings, softmax over the ids that occur): the other rows would get zero
gradient anyway, and skipping them makes each step many times cheaper on a CPU.
"""
from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from .formatting import pad_right


def warm_up_lm(model, tokenizer, texts: list[str], steps: int, seed: int = 0, batch_size: int = 16,
               lr: float = 2e-3) -> list[float]:
    """Train `model` (a *ForCausalLM with tied embeddings) for `steps` steps of next-token
    prediction on `texts`; return the losses. The trained token ids are stored in
    `model.config.warmup_vocab`, so a likelihood verifier can use the same softmax."""
    from .setup import progress

    ids = [tokenizer(t)["input_ids"] for t in texts]
    vocab = torch.tensor(sorted({i for seq in ids for i in seq}))
    to_local = torch.full((model.config.vocab_size,), -1, dtype=torch.long)
    to_local[vocab] = torch.arange(len(vocab))
    embedding = model.get_input_embeddings()
    rows = torch.nn.Parameter(embedding.weight.detach()[vocab].clone())
    body = [p for n, p in model.named_parameters() if p is not embedding.weight]
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW([rows, *body], lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    losses = []
    bar = progress(range(steps), desc="LM warm-up")
    for _ in bar:
        batch = rng.sample(ids, min(batch_size, len(ids)))
        local, mask = pad_right([to_local[s].tolist() for s in batch], 0)
        hidden = model.model(inputs_embeds=rows[local], attention_mask=mask).last_hidden_state[:, :-1]
        targets = local[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = F.cross_entropy((hidden @ rows.T).reshape(-1, len(vocab)), targets.reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([rows, *body], 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    with torch.no_grad():
        embedding.weight[vocab] = rows
    model.config.warmup_vocab = vocab.tolist()
    model.eval()
    return losses
