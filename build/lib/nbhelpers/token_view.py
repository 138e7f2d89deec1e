"""What the reward model sees: one (prompt, response) as `formatting.render` makes it, token by token.

`show_tokens` gives each token a part: prompt (the conversation's own text), template (chat-template markup, role
names, the newlines and default text it adds, [CLS]/[SEP], the think tags), thinking, answer (after `</think>`),
found from the character offsets: the turns' texts are located in order in the rendered text, a token takes the
part of its first character that has one (".\\n" ending a thought is thinking), else template. It marks the
`</think>` split, the token the head reads (decoders' *ForSequenceClassification: the last non-pad token; BERT-style
encoders, whose text opens with [CLS]: the pooler reads position 0) and the tokens a `max_length` cut drops:
coloured chips in Jupyter (`_repr_html_`), plain text elsewhere (`str`, e.g. under nbconvert).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from itertools import groupby

from .formatting import as_text, messages_of, render
from .thinking import split_thinking, split_thinking_ids, think_end_id

PARTS = {"prompt": "#cfe2ff", "template": "#e2e3e5", "thinking": "#fff3cd", "answer": "#d1e7dd"}   # part: colour


@dataclass
class TokenView:
    """One (prompt, response) as the reward model reads it: HTML in Jupyter, plain text in `str`."""
    text: str                 # the rendered text of the kept turns, before the token cut
    tokens: list[str]         # each token's characters in `text` (a special token without any: its name)
    ids: list[int]
    offsets: list[tuple]      # (first, end) character of each token in `text`
    parts: list[str]          # the part of each token (a key of PARTS)
    cut: int                  # max_length cuts `cut` tokens after the first `lead`: the model reads the rest
    lead: int                 # tokens kept in front of the cut (an encoder's [CLS])
    split: int | None         # index of the last `</think>` token; None if it is not in the text or the vocabulary
    head: int                 # index of the token the score head reads
    head_rule: str            # why that token
    dropped: list[dict]       # oldest turns left out to fit max_length
    max_length: int | None
    think_token: bool         # the vocabulary has `</think>` as one token

    def is_cut(self, i: int) -> bool:
        return self.lead <= i < self.lead + self.cut

    def counts(self) -> dict[str, int]:
        """Tokens per part, among the tokens the model reads."""
        read = [part for i, part in enumerate(self.parts) if not self.is_cut(i)]
        return {part: read.count(part) for part in PARTS}

    def summary(self) -> list[str]:
        """The view in sentences: counts, split, head, truncation."""
        lines = [f"{len(self.ids) - self.cut} tokens read: "
                 + " / ".join(f"{part}: {n}" for part, n in self.counts().items())]
        if not self.think_token:
            lines.append("no </think> token in this vocabulary: the think tags are read as ordinary text "
                         "(thinking and answer are told apart here by the text)")
        elif self.split is None:
            lines.append("no </think> in this text: everything after the prompt is answer")
        else:
            lines.append(f"</think> split: token {self.split} (id {self.ids[self.split]}): thinking before, "
                         "answer after")
        lines.append(f"the score head reads token {self.head} ({self.tokens[self.head]!r}, id {self.ids[self.head]}): "
                     + self.head_rule)
        if not self.max_length:
            lines.append("no max_length: nothing is cut")
        elif not (self.cut or self.dropped):
            lines.append(f"max_length {self.max_length}: all {len(self.ids)} tokens fit")
        else:
            cuts = [f"{len(self.dropped)} oldest turn(s) dropped"] if self.dropped else []
            first = "the first" if not self.lead else f"after the first {self.lead}, the next"
            cuts += [f"{first} {self.cut} tokens cut ({self.lead}-{self.lead + self.cut - 1}, struck through)"] if self.cut else []
            lines.append(f"max_length {self.max_length}: " + ", then ".join(cuts))
            lines += [f"dropped {m['role']} turn: {m['content'][:80]!r}" for m in self.dropped]
        return lines

    def _run_text(self, first: int, last: int) -> str:
        """The slice of `text` under tokens first..last, or the tokens joined if one has no characters ([CLS])."""
        spans = self.offsets[first:last + 1]
        if all(b > a for a, b in spans):
            return self.text[spans[0][0]:spans[-1][1]]
        return "".join(self.tokens[first:last + 1])

    def __str__(self) -> str:
        rows = [f"{'tokens':>9}  {'part':14s}  text"]
        for (part, cut), run in groupby(range(len(self.ids)), key=lambda i: (self.parts[i], self.is_cut(i))):
            first, last = (run := list(run))[0], run[-1]
            label = part + (" (cut)" if cut else "")
            rows.append(f"{f'{first}-{last}':>9}  {label:14s}  {self._run_text(first, last)!r}")
        return "\n".join(self.summary() + rows)

    __repr__ = __str__

    def _chip(self, i: int) -> str:
        style = (f"display:inline-block;margin:1px;padding:0 3px;border-radius:3px;text-align:center;"
                 f"font-family:monospace;background:{PARTS[self.parts[i]]};")
        notes = [self.parts[i]]
        if self.is_cut(i):
            style += "opacity:.4;text-decoration:line-through;"
            notes.append(f"cut by max_length {self.max_length}")
        if i == self.split:
            style += "border-right:3px solid #dc3545;"
            notes.append("</think> split")
        if i == self.head:
            style += "outline:2px solid #d63384;"
            notes.append("the score head reads this token")
        shown = self.tokens[i].replace(" ", "\u2423").replace("\n", "\u21b5") or "\u2205"
        chip = (f'<span title="{html.escape(f"#{i} id {self.ids[i]}: " + ", ".join(notes))}" style="{style}">'
                f'{html.escape(shown)}<br><small style="color:#666">{self.ids[i]}</small></span>')
        return chip + ("<br>" if "\n" in self.tokens[i] else "")

    def _repr_html_(self) -> str:
        legend = " ".join(f'<span style="background:{colour};padding:0 6px;border-radius:3px">{part}</span>'
                          for part, colour in PARTS.items())
        legend += (' &nbsp; <span style="border-right:3px solid #dc3545">&nbsp;</span> &lt;/think&gt; split'
                   ' &nbsp; <span style="outline:2px solid #d63384">&nbsp;</span> read by the head'
                   ' &nbsp; <s style="opacity:.4">struck</s>: cut by max_length (hover a token: index, id, part)')
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in self.summary())
        chips = "".join(self._chip(i) for i in range(len(self.ids)))
        return f'<div style="line-height:1.2">{legend}<ul style="margin:4px 0">{lines}</ul><div>{chips}</div></div>'


def _char_parts(text: str, messages: list[dict], response: str, begin: int) -> list[str | None]:
    """The part of each character of `text` (None: template): the turns' texts found in order before `begin`
    (where the response starts), the response's thinking and answer after it."""
    found: list[str | None] = [None] * len(text)

    def mark(pieces, start, stop):
        for piece, part in pieces:
            at = text.find(piece, start, stop) if piece else -1
            if at >= 0:
                found[at:at + len(piece)] = [part] * len(piece)
                start = at + len(piece)
        return start

    cursor = 0
    for message in messages:   # an earlier assistant turn: its template may keep only the answer
        cursor = mark([(piece, "prompt") for piece in split_thinking(message["content"])], cursor, begin)
    thinking, answer = split_thinking(response)
    mark([(thinking, "thinking"), (answer, "answer")], begin, len(text))
    return found


def show_tokens(tokenizer, prompt, response, max_length: int | None = None) -> TokenView:
    """The tokens of (prompt, response) as `render` makes them, by part, with the `</think>` split, the token
    the score head reads and what a cut to `max_length` drops (module doc)."""
    messages, response = messages_of(prompt), as_text(response)
    seen = render(tokenizer, messages, response, max_length)
    dropped = [m for m in messages if m["role"] != "system"][:seen.dropped_turns]   # render drops the oldest first
    kept = [m for m in messages if all(m is not d for d in dropped)]
    full = render(tokenizer, kept, response, offsets=True)   # the same text, before the token cut
    begin = full.offsets[full.response_start][0] if full.response_start < len(full.ids) else len(full.text)
    chars = _char_parts(full.text, kept, response, begin)
    parts = [next((chars[k] for k in range(a, b) if chars[k]), "template") for a, b in full.offsets]
    tokens = [full.text[a:b] if b > a else tokenizer.convert_ids_to_tokens(i)
              for i, (a, b) in zip(full.ids, full.offsets)]
    thinking, _ = split_thinking_ids(full.ids, tokenizer)
    cut, lead = seen.cut_tokens, seen.kept_first
    if tokenizer.cls_token_id is not None and full.ids[:1] == [tokenizer.cls_token_id]:
        head, rule = 0, "the first token (an encoder's pooler reads position 0, [CLS], kept by any cut)"
    else:
        head = max((i for i in range(cut, len(full.ids)) if full.ids[i] != tokenizer.pad_token_id), default=cut)
        rule = "the last token that is not padding"
    return TokenView(full.text, tokens, full.ids, full.offsets, parts, cut, lead, len(thinking) - 1 if thinking else None,
                     head, rule, dropped, max_length, think_token=think_end_id(tokenizer) is not None)
