"""Load and validate preference pairs.

A pair is `{"prompt": ..., "chosen": str, "rejected": str}`, optionally with `id`, `category` and
`margin` (a float for TRL's margin loss). The prompt is a string (one user turn) or, for a
conversation or a system message, the list of its messages `{"role", "content"}`: every turn is kept
(formatting.py renders them). Input rows may also give a `system` string and TRL's conversational form
(message lists, with or without a `prompt` key), and Anthropic HH-style transcripts; all go through one
validator. The sources it reads (JSONL, JSON, CSV/TSV, Parquet, gzip, `save_to_disk` folders, lists,
`datasets.Dataset`) and the column mapping `fields` are in sources.py.

Every problem is reported as `FILE:LINE: FIELD: message` (LINE is 1-based, 0 for the source itself;
what it counts per format: sources.py). Bad data never raises a traceback from `validate`, and files
are only ever opened read-only.
"""

from __future__ import annotations

import json
import math
import numbers
import random
import sys

from .sources import EXAMPLE, KNOWN, REQUIRED, ROLES, Problem, field_label, kind_of, read_rows


class Pair(dict):
    """A checked pair: a plain dict of its fields (so it equals a dict with the same fields and
    json.dumps writes only them) with the source line as an attribute, not a key: `pair.line` is
    the 1-based line in the file, or row index + 1 for lists and datasets; None if unknown."""

    def __init__(self, row=(), line=None):
        super().__init__(row)
        self.line = line


class DataError(ValueError):
    """Raised with every problem found; str() is one `FILE:LINE: FIELD: message` line per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Bad(Exception):
    """A row problem: stops checking the current field."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


# ---------------------------------------------------------------- checking one row

def _text(value, field, what=None):
    """Check a non-empty string; `what` names it in messages (default: the field itself)."""
    what = what or "is"
    if value is None:
        raise _Bad(field, f"{what} null; expected a non-empty string")
    if not isinstance(value, str):
        raise _Bad(field, f"{what} {kind_of(value)}; expected a string")
    if not value:
        raise _Bad(field, f"{what} empty")
    if not value.strip():
        raise _Bad(field, f"{what} only whitespace")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad(field, f"{what} text with an unpaired surrogate escape (like \\ud800); "
                   "fix the text") from None
    return value


def _messages(value, field):
    """Check a list of chat messages; return [(role, content), ...]."""
    if not isinstance(value, (list, tuple)):
        raise _Bad(field, f"is {kind_of(value)}; expected a string or a list of messages like "
                   '[{"role": "user", "content": "..."}]')
    if not value:
        raise _Bad(field, "is an empty list of messages")
    out = []
    for i, m in enumerate(value, start=1):
        if not isinstance(m, dict):
            raise _Bad(field, f"message {i} is {kind_of(m)}; expected an object like "
                       '{"role": "user", "content": "..."}')
        for key in ("role", "content"):
            if key not in m:
                raise _Bad(field, f"message {i} has no {key!r}")
        role = m["role"]
        if role not in ROLES:
            raise _Bad(field, f"message {i} has role {role!r}; use one of "
                       f"{', '.join(ROLES)} (ShareGPT's human/gpt must be converted)")
        if role == "system" and isinstance(m["content"], str) and not m["content"].strip():
            out.append((role, m["content"]))  # an empty system prompt is simply dropped later
            continue
        out.append((role, _text(m["content"], field, f"message {i} content is")))
    return out


def _reply(messages, field, alone):
    """The assistant reply: the only message (alone=True) or the last one."""
    if alone and len(messages) != 1:
        raise _Bad(field, f"has {len(messages)} messages; expected exactly one assistant message "
                   'like [{"role": "assistant", "content": "..."}] (earlier turns go in "prompt")')
    role, content = messages[-1]
    if role != "assistant":
        where = "its message" if alone else "its last message"
        raise _Bad(field, f"{where} has role {role!r}; expected 'assistant'")
    return content


def _prompt_from(messages, system=None):
    """The prompt from its messages (and a separate `system` string): a string for one user turn,
    else the list of messages, every turn kept; an empty system message is dropped."""
    if not any(role == "user" for role, _ in messages):
        raise _Bad("prompt", "has no user message")
    systems = [c for role, c in messages if role == "system"]
    if len(systems) > 1:
        raise _Bad("prompt", "has more than one system message; keep one")
    if systems and system is not None:
        raise _Bad("system", "given both as a 'system' field and as a system message in prompt; keep one")
    if system is not None:
        messages = [("system", system), *messages]
    messages = [(role, c) for role, c in messages if role != "system" or c.strip()]
    if len(messages) == 1:
        return messages[0][1]
    return [{"role": role, "content": c} for role, c in messages]


def _conversational(row, system):
    """Normalise TRL's conversational forms; return (prompt, chosen, rejected)."""
    chosen, rejected = row.get("chosen"), row.get("rejected")
    for field in ("chosen", "rejected"):
        if field not in row:
            raise _Bad(field, "missing; every row needs prompt, chosen and rejected")
    if "prompt" in row:  # explicit prompt; the replies are strings (as the validator writes pairs) or one message
        if isinstance(row["prompt"], str):
            raise _Bad("prompt", "is a string but chosen/rejected are message lists; use a list "
                       'like [{"role": "user", "content": "..."}] or plain strings for all three')
        replies = [_text(v, f) if v is None or isinstance(v, str) else _reply(_messages(v, f), f, True)
                   for f, v in (("chosen", chosen), ("rejected", rejected))]
        return (_prompt_from(_messages(row["prompt"], "prompt"), system), *replies)
    if isinstance(chosen, str) or isinstance(rejected, str):
        field = "chosen" if isinstance(chosen, str) else "rejected"
        raise _Bad(field, "is a string but the other is a message list, and there is no 'prompt'; give "
                   "a prompt, or both chosen and rejected as whole conversations")
    # implicit prompt: chosen and rejected are whole conversations sharing the same start
    cm, rm = _messages(chosen, "chosen"), _messages(rejected, "rejected")
    c, r = _reply(cm, "chosen", False), _reply(rm, "rejected", False)
    if cm[:-1] != rm[:-1]:
        k = next((i for i, (a, b) in enumerate(zip(cm[:-1], rm[:-1]), 1) if a != b),
                 min(len(cm), len(rm)))
        raise _Bad("prompt", "no 'prompt' key, and chosen and rejected differ before the final "
                   f"assistant reply (at message {k}); the turns before it must be identical")
    if not cm[:-1]:
        raise _Bad("prompt", "missing: chosen/rejected hold only the assistant reply; add a "
                   "'prompt' key or put the user message first")
    return _prompt_from(cm[:-1], system), c, r


def _is_response_row(row) -> bool:
    return isinstance(row, dict) and "response" in row and "chosen" not in row and "rejected" not in row


def _check_row(row, notes, responses=False):
    """Return a normalised pair (or, with `responses`, a prompt/response row) or raise _Bad;
    append (field, message) notes to `notes`."""
    if not isinstance(row, dict):
        raise _Bad("row", f"is {kind_of(row)}; expected a JSON object like {EXAMPLE}")
    pair = {}
    system = _text(row["system"], "system") if row.get("system") is not None else None
    if responses and _is_response_row(row):
        for field in ("prompt", "response"):
            if field not in row:
                raise _Bad(field, "missing; a row to score needs prompt and response (or prompt, chosen, rejected)")
        prompt, response = row["prompt"], row["response"]
        pair["prompt"] = _prompt_from(_messages(prompt, "prompt") if isinstance(prompt, (list, tuple))
                                      else [("user", _text(prompt, "prompt"))], system)
        pair["response"] = (_reply(_messages(response, "response"), "response", True)
                            if isinstance(response, (list, tuple)) else _text(response, "response"))
    elif any(isinstance(row.get(k), (list, tuple)) for k in REQUIRED):
        pair.update(zip(REQUIRED, _conversational(row, system)))
    else:
        for field in REQUIRED:
            if field not in row:
                raise _Bad(field, "missing; every row needs prompt, chosen and rejected")
            pair[field] = _text(row[field], field)
        if system is not None:
            pair["prompt"] = _prompt_from([("user", pair["prompt"])], system)
    if "chosen" in pair and pair["chosen"] == pair["rejected"]:
        raise _Bad("rejected", "is identical to chosen; a preference pair needs two different "
                   "responses")
    if "chosen" in pair and pair["chosen"].strip() == pair["rejected"].strip():
        notes.append(("rejected", "differs from chosen only in leading/trailing whitespace"))
    # Optional fields: None means absent (datasets fill missing values with None).
    if row.get("id") is not None:
        v = row["id"]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _Bad("id", f"is {kind_of(v)}; expected a string or an integer")
        pair["id"] = v
    if row.get("category") is not None:
        if not isinstance(row["category"], str):
            raise _Bad("category", f"is {kind_of(row['category'])}; expected a string")
        pair["category"] = row["category"]
    if row.get("margin") is not None:
        v = row["margin"]
        try:
            ok = (isinstance(v, numbers.Real) and not isinstance(v, bool)
                  and math.isfinite(float(v)))
        except (OverflowError, ValueError, TypeError):
            ok = False
        if not ok:
            raise _Bad("margin", f"is {kind_of(v)}; expected a finite number (how much better "
                       "chosen is than rejected)")
        pair["margin"] = float(v)
    return pair


# ---------------------------------------------------------------- public API

def validate(source, responses=False, fields: dict | None = None):
    """Return (pairs, errors, warnings). Never raises for bad data; never modifies the file.

    `source` is a file, a folder, a list of dicts or a `datasets.Dataset` (sources.py); `fields` maps the
    kit's field names to your columns, e.g. `{"prompt": "question"}`. Each pair is a `Pair`: `{"prompt",
    "chosen", "rejected"}` plus any of `id`, `category`, `margin` (a system message is part of the
    prompt), and `pair.line`. With `responses=True`, rows to score `{"prompt", "response"}` are accepted
    too (and may repeat).
    """
    errors, warnings = [], []
    pairs, seen, ids, counts = [], {}, {}, {}
    name = "<source>"
    try:
        name, rows = read_rows(source, errors, warnings, fields)
        for line, row in rows:
            notes = []
            for key in row if isinstance(row, dict) else ():
                if key not in KNOWN and not (key == "response" and responses):
                    notes.append((str(key), "unknown field, ignored (known fields: "
                                  f"{', '.join(KNOWN)})"))
            pair = None
            try:
                pair = _check_row(row, notes, responses)
            except _Bad as bad:
                errors.append(Problem(name, line, field_label(bad.field, fields), bad.message))
            except Exception as e:  # never a traceback for bad data
                errors.append(Problem(name, line, "row",
                                      f"could not check this row ({type(e).__name__}: {e})"))
            for note in notes:
                counts.setdefault(note, [line, 0])[1] += 1
            if pair is None:
                continue
            if "response" in pair:
                pairs.append(Pair(pair, line=line))
                continue
            key = (json.dumps(pair["prompt"]), pair["chosen"], pair["rejected"])
            if key in seen:
                errors.append(Problem(name, line, "row", f"duplicate of line {seen[key]} (same "
                                      "prompt, chosen and rejected); remove one copy"))
                continue
            seen[key] = line
            swapped = (key[0], key[2], key[1])
            if swapped in seen:
                warnings.append(Problem(name, line, "row", f"contradicts line {seen[swapped]}: "
                                        "same prompt with chosen and rejected swapped"))
            if "id" in pair:
                if pair["id"] in ids:
                    warnings.append(Problem(name, line, "id", f"{pair['id']!r} is also used on "
                                            f"line {ids[pair['id']]}; ids should be unique"))
                ids.setdefault(pair["id"], line)
            pairs.append(Pair(pair, line=line))
    except Exception as e:  # e.g. a dataset that fails while iterating
        errors.append(Problem(name, 0, "source", f"could not read ({type(e).__name__}: {e})"))
    for (field, message), (line, n) in counts.items():
        warnings.append(Problem(name, line, field, f"{message}; first here, on {n} "
                                f"row{'s' if n != 1 else ''} in all"))
    errors.sort(key=lambda p: p.line)
    warnings.sort(key=lambda p: p.line)
    return pairs, errors, warnings


def load_pairs(source, fields: dict | None = None, skip_invalid: bool = False):
    """validate(); raise DataError if there are errors (with `skip_invalid`: print them and leave those rows
    out); print warnings (to stderr); return the pairs."""
    pairs, errors, warnings = validate(source, fields=fields)
    if errors and not skip_invalid:
        raise DataError(errors)
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)
    if errors:
        print(f"skipped {len(errors)} invalid rows of {errors[0].source}; "
              f"{len(pairs)} pairs kept", file=sys.stderr)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return pairs


def sample_pairs(pairs, n: int | None, seed: int = 0) -> list:
    """A seeded random sample of n pairs in their original order (all of them if n is None or larger)."""
    pairs = list(pairs)
    if n is None or n >= len(pairs):
        return pairs
    keep = set(random.Random(f"sample:{seed}").sample(range(len(pairs)), n))
    return [p for i, p in enumerate(pairs) if i in keep]


def split_pairs(pairs, test_fraction=0.1, seed=0):
    """Split into (train, test), deterministic for a given seed, stratified by `category`.

    Each category gets its share of the test set (largest remainders), at least one test pair
    overall when there are 2+ pairs and test_fraction > 0. Both lists keep the input order.
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    pairs = list(pairs)
    n = len(pairs)
    n_test = min(n - 1, int(n * test_fraction + 0.5)) if n else 0
    if test_fraction > 0 and n >= 2:
        n_test = max(1, n_test)
    groups = {}
    for i, p in enumerate(pairs):
        groups.setdefault(str(p.get("category")), []).append(i)
    keys = sorted(groups)
    exact = {k: len(groups[k]) * n_test / n for k in keys} if n else {}
    share = {k: int(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: (-(exact[k] - share[k]), k))[:n_test - sum(share.values())]:
        share[k] += 1
    test = set()
    for k in keys:
        idx = list(groups[k])
        random.Random(f"{seed}:{k}").shuffle(idx)
        test.update(idx[:share[k]])
    return ([p for i, p in enumerate(pairs) if i not in test],
            [p for i, p in enumerate(pairs) if i in test])


def too_long(pairs, count_tokens, max_length):
    """Pairs whose chosen or rejected side exceeds max_length tokens.

    count_tokens(prompt, response) -> int is supplied by the caller (it should count the text
    the model sees). Each result: {"line", "id", "chosen_tokens", "rejected_tokens"}.
    TRL's RewardTrainer silently drops such pairs; report them instead.
    """
    out = []
    for p in pairs:
        c = count_tokens(p["prompt"], p["chosen"])
        r = count_tokens(p["prompt"], p["rejected"])
        if c > max_length or r > max_length:
            out.append({"line": getattr(p, "line", None), "id": p.get("id"),
                        "chosen_tokens": c, "rejected_tokens": r})
    return out
