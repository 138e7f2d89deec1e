"""The verifier's digit credits (nbhelpers.verifier) on a small random body: which digits count, the floor, the bound."""
import math

import torch
import torch.nn.functional as F

from nbhelpers.formatting import encode
from nbhelpers.modeling import load_for_training
from nbhelpers.verifier import _answer_start, _split_positions, digit_credits, digit_ids, supports_verifier

THINK_END, D, W = 99, {1, 2, 3, 4, 5, 6}, 7   # a toy vocabulary: digits 1-6, </think> = 99, a word = 7


def test_split_positions_thinking_digits_and_the_last_answer_number():
    ids = [W, 1, W, 2, 3, THINK_END, W, 4, W, 5, 6, W]
    assert _split_positions(ids, 1, D, 6) == ([1, 3, 4], [9, 10])       # 4 is not the final number
    assert _split_positions(ids, 2, D, 6) == ([3, 4], [9, 10])          # prompt positions never count
    assert _split_positions([W, 1, 2, W, 3], 0, D, None) == ([], [4])   # no thinking: all answer
    assert _split_positions([W, 1, THINK_END, W], 0, D, 3) == ([1], [])


def test_answer_start_finds_a_think_end_split_over_several_tokens():
    text = "Q?</think>A: 12"                        # "</" + "think>" are tokens 2-3
    offsets = [(0, 1), (1, 2), (2, 4), (4, 10), (10, 11), (11, 12), (12, 13), (13, 14), (14, 15)]
    assert _answer_start(text, offsets, 0) == 4     # "A" (token 4) starts the answer
    assert _answer_start(text, offsets, 4) is None  # a response from token 4 on: that </think> was in the prompt
    assert _answer_start("no thinking", [(0, 2), (2, 11)], 0) is None


def test_credits_are_bounded_by_chance_and_certainty_and_match_a_plain_forward_pass(tiny_profile):
    model, tok = load_for_training(tiny_profile, [])
    model.eval()
    assert supports_verifier(model, tok) and len(digit_ids(tok)) == 10
    prompt = "What is 12 + 30?"
    responses = ["<think>\n12 + 30 = 42\n</think>\n\nThe answer is 42.", "The answer is 42.", "No numbers here.",
                 "<think>\nJust words.\n</think>\n\nForty-two."]
    credits = digit_credits(model, tok, [prompt] * 4, responses)
    for thinking, answer in credits:
        assert 0.0 <= thinking <= math.log(10) and 0.0 <= answer <= math.log(10)
    assert credits[1][0] == 0.0 and credits[2] == (0.0, 0.0) and credits[3] == (0.0, 0.0)

    # the answer credit of "The answer is 42." by hand: the body's next-digit distribution before "4" and "2"
    ids = encode(tok, prompt, responses[1])
    digits = digit_ids(tok)
    at = [j for j in range(len(ids)) if ids[j] in digits]
    base = model.get_base_model()
    with torch.no_grad(), model.disable_adapter():
        hidden = base.model(input_ids=torch.tensor([ids])).last_hidden_state[0].float()
    logp = F.log_softmax(hidden @ base.get_input_embeddings().weight[digits].float().T, dim=-1)
    by_hand = sum(max(0.0, logp[j - 1, digits.index(ids[j])].item() + math.log(10)) for j in at[-2:]) / 2
    assert at[-2:] == [at[-1] - 1, at[-1]] and len(at) == 6        # 12, 30 in the prompt; 42 in the answer
    assert math.isclose(credits[1][1], by_hand, abs_tol=1e-5)
