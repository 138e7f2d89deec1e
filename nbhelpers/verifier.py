"""A generative verifier: the body's own likelihood of the response, combined with the reward head.

A reward model learns the cheapest cue that separates its pairs. A last-token scalar head
quickly learns "has a thinking block", but reading "one intermediate step is wrong" out of
the body takes far longer to learn. The warmed-up body, though, has learned to *predict*
correct steps: a wrong digit is a surprise to it. So the verifier scores a response by its
mean token log-probability under the body (LoRA adapters switched off), and the reward is
`head_weight * head + lm_weight * mean_logprob`, with the two weights fitted by logistic
regression on training pairs and saved in the model folder (`nbhelpers.json`).

This module only computes: the likelihood term and the weight fit. The reward that combines them
is defined in one place, `scoring.RewardScorer`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .formatting import encode, keep_last, pad_right

OOV_LOGPROB = -20.0   # tokens the built body never saw in warm-up (outside its trained vocabulary)
BATCH_SIZE = 32
FIT_ITERATIONS = 500   # LBFGS iterations of the two-weight logistic regression
FIT_L2 = 1e-3          # its ridge penalty on the (scaled) weights


def _body_and_embeddings(model):
    """(decoder body, tied embedding matrix, context manager that disables LoRA)."""
    import contextlib

    disable = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model, base.get_input_embeddings().weight, disable


def supports_verifier(model) -> bool:
    """Decoder bodies with tied input/output embeddings (Qwen3, SmolLM2); not BERT encoders."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(getattr(base.config, "tie_word_embeddings", False)) and base.config.model_type != "bert"


def _header_length(tokenizer) -> int:
    empty = encode(tokenizer, "", "")
    probe = encode(tokenizer, "", "x")
    common = 0
    while common < min(len(empty), len(probe)) and empty[common] == probe[common]:
        common += 1
    return common


@torch.inference_mode()
def mean_logprobs(model, tokenizer, prompts, responses, max_length: int | None = None,
                  vocab_ids: list[int] | None = None, batch_size: int = BATCH_SIZE) -> list[float]:
    """Mean log-probability of each response's tokens given its prompt, under the body's LM
    (texts longer than max_length keep their last max_length tokens, like the head sees them).
    `vocab_ids`: restrict the softmax to these ids (a warmed-up tiny body's trained tokens; every
    other token then gets OOV_LOGPROB); None = the whole vocabulary."""
    body, embeddings, disable = _body_and_embeddings(model)
    vocab = torch.tensor(vocab_ids, device=embeddings.device) if vocab_ids else None
    to_local = None
    if vocab is not None:
        to_local = torch.full((embeddings.shape[0],), -1, dtype=torch.long, device=embeddings.device)
        to_local[vocab] = torch.arange(len(vocab), device=embeddings.device)
    weight = embeddings[vocab] if vocab is not None else embeddings
    tail = len(encode(tokenizer, "", "")) - _header_length(tokenizer)   # end-of-turn tokens after a response
    items = []
    for p, r in zip(prompts, responses):
        full = encode(tokenizer, p, r)
        ids = keep_last(full, max_length)
        start = len(encode(tokenizer, p, "")) - tail - (len(full) - len(ids))
        items.append((ids, max(1, min(start, len(ids) - 1))))
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    out = [0.0] * len(items)
    pad = tokenizer.pad_token_id
    with disable:
        for k in range(0, len(order), batch_size):
            input_ids, mask = pad_right([items[i][0] for i in order[k:k + batch_size]], pad, weight.device)
            hidden = body(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, :-1].float()
            logp = F.log_softmax(hidden @ weight.float().T, dim=-1)
            targets = input_ids[:, 1:]
            if to_local is not None:
                local = to_local[targets]
                token_lp = logp.gather(-1, local.clamp(min=0).unsqueeze(-1)).squeeze(-1)
                token_lp = torch.where(local >= 0, token_lp, torch.full_like(token_lp, OOV_LOGPROB))
            else:
                token_lp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            for row, i in enumerate(order[k:k + batch_size]):
                ids, start = items[i]
                out[i] = token_lp[row, start - 1:len(ids) - 1].mean().item()
    return out


def fit_weights(head_margins, lm_margins, steps: int = FIT_ITERATIONS) -> dict:
    """Logistic regression without bias on (head margin, LM margin): P(chosen) = sigmoid(w . x)."""
    x = torch.tensor(list(zip(head_margins, lm_margins)), dtype=torch.float64)
    scale = x.abs().mean(0).clamp(min=1e-6)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=steps)

    def closure():
        opt.zero_grad()
        loss = -F.logsigmoid((x / scale) @ w).mean() + FIT_L2 * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    head_w, lm_w = (w.detach() / scale).tolist()
    return {"head_weight": head_w, "lm_weight": lm_w}
