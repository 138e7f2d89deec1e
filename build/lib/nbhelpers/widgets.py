"""An interactive scorer for notebooks: a prompt box, a response box, a button, the reward and the
tokens the reward model reads (token_view.py).

Nothing here waits for input: `scorer_widget` builds the widgets, scores the initial texts once
(and prints that reward, so it is visible in a static or headless run, e.g. under `jupyter nbconvert`) and
returns; each click on the button scores the current texts again.
"""
from __future__ import annotations

import html
import re

from .thinking import select_part, split_thinking
from .token_view import show_tokens


def reward_html(scorer, prompt: str, response: str) -> str:
    """The reward of (prompt, response), as a short HTML line (also answer-only/thinking-only
    rewards when the response has a thinking block)."""
    reward = scorer.score(prompt, response)
    line = f"<b>reward: {reward:+.3f}</b>"
    norm = getattr(scorer, "normalizer", None)
    if norm is not None:
        line += f" (normalized: (raw - {norm.mean:.3f}) / {norm.std:.3f})"
    if getattr(scorer, "clip", None) is not None:
        line += f" (clipped to &plusmn;{scorer.clip:g})"
    thinking, answer = split_thinking(response)
    if thinking is not None and hasattr(scorer, "replace"):
        parts = [f"{part} only: {scorer.replace(part=part).score(prompt, response):+.3f}"
                 for part in ("answer", "thinking")]
        line += " &nbsp; | &nbsp; " + ", ".join(parts)
    return line


def tokens_html(scorer, prompt: str, response: str) -> str:
    """The tokens the scorer's head reads for (prompt, response) (its part, cut to its max_length), as HTML."""
    view = show_tokens(scorer.tokenizer, prompt, select_part(response, scorer.part), scorer.max_length)
    return view._repr_html_()


def scorer_widget(scorer, prompt: str = "What is 15 + 27?",
                  response: str = "<think>\nTens: 10 + 20 = 30.\nOnes: 5 + 7 = 12.\nTotal: 42.\n</think>\n\nThe answer is 42."):
    """Return an ipywidgets box: edit the prompt and response, click "Score", read the reward and see the
    tokens the reward model reads."""
    import ipywidgets as w

    prompt_box = w.Textarea(value=prompt, description="prompt", layout=w.Layout(width="95%", height="60px"))
    response_box = w.Textarea(value=response, description="response", layout=w.Layout(width="95%", height="140px"))
    button = w.Button(description="Score", button_style="primary", icon="check")
    result, tokens = w.HTML(), w.HTML()

    def update(_=None):
        try:
            result.value = reward_html(scorer, prompt_box.value, response_box.value)
            if hasattr(scorer, "tokenizer"):   # one reward model (an ensemble has several tokenizers)
                tokens.value = tokens_html(scorer, prompt_box.value, response_box.value)
        except Exception as err:  # show the problem in the widget, keep the kernel alive
            result.value = f"<span style='color:red'>{html.escape(type(err).__name__)}: {html.escape(str(err))}</span>"

    button.on_click(update)
    update()
    print("initial texts:", html.unescape(re.sub(r"<[^>]+>", "", result.value)))   # also seen where widgets are not
    return w.VBox([prompt_box, response_box, w.HBox([button, result]), tokens])
