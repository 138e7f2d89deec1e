"""A generative verifier: does the body predict the numbers a response computes?

A reward model learns the cheapest cue that separates its pairs. A last-token scalar head
quickly learns "has a thinking block", but reading "one intermediate step is wrong" out of
the body takes far longer to learn. The warmed-up body, though, has learned to *predict*
correct steps: a wrong digit is a surprise to it. So the verifier credits every digit of a
response by how much better than chance the body (LoRA adapters switched off) predicts it,

    credit(digit) = max(0, log(10 * p))     p = the body's probability of that digit among the ten digits

(0 for a digit the body cannot predict, ln 10 = 2.30 for a certain one), averaged over the digits of
the thinking and, separately, over the final answer's number (the last number after `</think>`):

    reward = head_weight * head + thinking_weight * thinking_credit + answer_weight * answer_credit
             + calculator_weight * calculator_check

(the last term recomputes the equations the response writes: calculator.py). The four weights are fitted
by logistic regression on training pairs and saved in the model folder (`nbhelpers.json`), so a reward
difference is a Bradley-Terry logit: r_a - r_b = 1 means the model prefers a with probability sigmoid(1) = 0.73.

Why credits and not the mean log-likelihood of the whole response (this kit's first verifier): a
likelihood rewards *familiar* text. Out of distribution it scored a bare "The answer is 18." far above
real human reasoning in words the body never read. Credits count digits only (familiar wording earns
nothing), and the floor at 0 means a response is never credited less than one with no digits at all:
the verifier cannot prefer leaving the thinking out, and text the body cannot follow earns nothing
instead of a large negative number, leaving the decision to the head.

This module only computes: the credits and the weight fit. The reward that combines them is defined in
one place, `scoring.RewardScorer`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .formatting import pad_right, render
from .thinking import THINK_END

DIGITS = "0123456789"
WEIGHTS = ("head_weight", "thinking_weight", "answer_weight", "calculator_weight")   # fit_weights' features
BATCH_SIZE = 32
FIT_ITERATIONS = 500   # LBFGS iterations of the logistic regression
FIT_L2 = 1e-3          # its ridge penalty on the (scaled) weights


def _body_and_embeddings(model):
    """(decoder body, tied embedding matrix, context manager that disables LoRA)."""
    import contextlib

    disable = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model, base.get_input_embeddings().weight, disable


def digit_ids(tokenizer) -> list[int] | None:
    """Ids of the tokens "0".."9" if the tokenizer writes numbers digit by digit (Qwen3, SmolLM2), else None."""
    ids = [tokenizer.convert_tokens_to_ids(d) for d in DIGITS]
    if any(i is None or i == tokenizer.unk_token_id for i in ids):
        return None
    sample = tokenizer("90817263544", add_special_tokens=False)["input_ids"]
    return ids if sample == [ids[int(d)] for d in "90817263544"] else None


def supports_verifier(model, tokenizer) -> bool:
    """Decoder bodies with tied input/output embeddings, a fast tokenizer (character offsets) writing numbers
    digit by digit; not BERT encoders."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return (bool(getattr(base.config, "tie_word_embeddings", False)) and base.config.model_type != "bert"
            and getattr(tokenizer, "is_fast", False) and digit_ids(tokenizer) is not None)


def _answer_start(text: str, offsets, start: int) -> int | None:
    """Index of the first token after the response's last `</think>` (found in the text, so it also works where
    `</think>` is several tokens), or None if the response has none."""
    end = text.rfind(THINK_END)
    if end < 0 or start >= len(offsets) or end < offsets[start][0]:
        return None
    end += len(THINK_END)
    return next((j for j, (first, _) in enumerate(offsets) if first >= end), len(offsets))


def _split_positions(ids, start, digits, cut) -> tuple[list[int], list[int]]:
    """Positions of the thinking's digits and of the final answer's number, in ids[start:]; `cut` is the first
    answer token (None: the response has no thinking)."""
    positions = [j for j in range(start, len(ids)) if ids[j] in digits]
    thinking = [j for j in positions if cut is not None and j < cut]
    answer = [j for j in positions if cut is None or j >= cut]
    last = answer[-1:]
    for j in reversed(answer[:-1]):   # the last number: the run of consecutive digit tokens at the end
        if j != last[0] - 1:
            break
        last.insert(0, j)
    return thinking, last


@torch.inference_mode()
def digit_credits(model, tokenizer, prompts, responses, max_length: int | None = None,
                  batch_size: int = BATCH_SIZE) -> list[tuple[float, float]]:
    """(thinking credit, answer credit) of each response given its prompt (see the module doc); a part
    without digits gets 0. Texts longer than max_length are cut as the head sees them (formatting.render)."""
    body, embeddings, disable = _body_and_embeddings(model)
    digits = digit_ids(tokenizer)
    if digits is None:
        raise ValueError("the verifier needs a tokenizer that writes numbers digit by digit")
    column = {token: k for k, token in enumerate(digits)}
    weight = embeddings[digits].float()
    items = []
    for p, r in zip(prompts, responses):
        seen = render(tokenizer, p, r, max_length, offsets=True)
        start = max(1, min(seen.response_start, len(seen.ids) - 1))
        items.append((seen.ids, start, _answer_start(seen.text, seen.offsets, start)))
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    out = [(0.0, 0.0)] * len(items)
    with disable:
        for k in range(0, len(order), batch_size):
            chunk = order[k:k + batch_size]
            input_ids, mask = pad_right([items[i][0] for i in chunk], tokenizer.pad_token_id, weight.device)
            hidden = body(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
            logp = F.log_softmax(hidden @ weight.T, dim=-1)    # (batch, positions, 10): the next token's digit
            for row, i in enumerate(chunk):
                ids, start, answer = items[i]
                credit = lambda js: (sum(max(0.0, logp[row, j - 1, column[ids[j]]].item() + math.log(10)) for j in js)
                                     / len(js) if js else 0.0)
                out[i] = tuple(credit(js) for js in _split_positions(ids, start, column, answer))
    return out


def fit_weights(margins, steps: int = FIT_ITERATIONS) -> dict:
    """Logistic regression without bias on per-pair feature margins (chosen - rejected):
    P(chosen) = sigmoid(w . x). Features in the order of WEIGHTS (head, thinking credit, answer credit,
    calculator check)."""
    x = torch.tensor([list(m) for m in margins], dtype=torch.float64)
    scale = x.abs().mean(0).clamp(min=1e-6)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=steps)

    def closure():
        opt.zero_grad()
        loss = -F.logsigmoid((x / scale) @ w).mean() + FIT_L2 * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return dict(zip(WEIGHTS, (w.detach() / scale).tolist()))
