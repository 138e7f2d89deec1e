"""Load and validate preference pairs.

A pair is `{"prompt": str, "chosen": str, "rejected": str}`, optionally with `id`, `category`,
`margin` (a float for TRL's margin loss) and `system`. Pairs come from a JSONL file (one object per
line), a Python list of dicts or a Hugging Face `datasets.Dataset`; all go through one validator.
TRL's conversational form (lists of `{"role", "content"}` messages, with or without a `prompt`
key) is accepted and turned into plain strings.

Every problem is reported as `FILE:LINE: FIELD: message` (LINE is 1-based; 0 for the file
itself; for lists and datasets it is the row index + 1). Bad data never raises a traceback from
`validate`, and files are only ever opened read-only.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("prompt", "chosen", "rejected")
OPTIONAL = ("id", "category", "margin", "system")
KNOWN = REQUIRED + OPTIONAL
ROLES = ("system", "user", "assistant")
EXAMPLE = '{"prompt": "...", "chosen": "...", "rejected": "..."}'
# Binary formats people pass by mistake: (magic bytes, what it is, what to do).
_MAGIC = (
    (b"\xff\xfe", "UTF-16 text", "re-save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text", "re-save it as UTF-8"),
    (b"\x1f\x8b", "a gzip archive", "unpack it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive", "unpack it first"),
    (b"PAR1", "a Parquet file",
     "load it with datasets.load_dataset('parquet', data_files=...)['train'] and pass the Dataset"),
)


@dataclass(frozen=True)
class Problem:
    """One problem in the data; str() is `FILE:LINE: FIELD: message`."""

    source: str
    line: int
    field: str
    message: str

    def __str__(self):
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


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


# ---------------------------------------------------------------- reading sources

def _is_hf(obj, *names):
    return any(c.__module__.split(".")[0] == "datasets" and c.__name__ in names
               for c in type(obj).__mro__)


def _read_jsonl(path, name, errors, warnings):
    """Yield (line, value) for each non-blank line; bad lines become problems."""
    if not path.exists():
        hint = ""
        if str(path).lstrip().startswith(("{", "[")):
            hint = " (this looks like JSON text: pass a path, or a list of dicts)"
        errors.append(Problem(name, 0, "file", f"file not found{hint}; check the path "
                              f"(relative paths start from {os.getcwd()})"))
        return
    if path.is_dir():
        errors.append(Problem(name, 0, "file",
                              "is a directory, not a file; pass the .jsonl file inside it"))
        return
    try:
        with open(path, "rb") as f:  # read-only, bytes: we decode line by line
            data = f.read()
    except OSError as e:
        errors.append(Problem(name, 0, "file", f"cannot read the file: {e.strerror or e}"))
        return
    if not data.strip():
        what = "the file is empty" if not data else "the file has only blank lines"
        errors.append(Problem(name, 0, "file", f"no pairs: {what}; write one JSON object per "
                              f"line like {EXAMPLE}"))
        return
    for magic, what, todo in _MAGIC:
        if data.startswith(magic):
            errors.append(Problem(name, 0, "file", f"this looks like {what}, not JSONL text; {todo}"))
            return
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark (Windows editors)
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            errors.append(Problem(name, number, "encoding",
                                  f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                                  f"{e.start + 1}); re-save the file as UTF-8"))
            continue
        if not text.strip():
            continue
        dupes = []

        def pairs_hook(items, dupes=dupes):
            seen = set()
            for key, _ in items:
                if key in seen:
                    dupes.append(key)
                seen.add(key)
            return dict(items)

        try:
            value = json.loads(text, object_pairs_hook=pairs_hook)
        except json.JSONDecodeError as e:
            errors.append(Problem(name, number, "json", f"invalid JSON: {e.msg} at column "
                                  f"{e.colno}; each line must be one complete JSON object"))
            continue
        except Exception as e:  # e.g. RecursionError on absurd nesting
            errors.append(Problem(name, number, "json",
                                  f"cannot parse this line ({type(e).__name__})"))
            continue
        for key in dict.fromkeys(dupes):
            warnings.append(Problem(name, number, str(key),
                                    "this key appears more than once; the last value is used"))
        yield number, value


def _rows(source, errors, warnings):
    """Return (name, iterable of (line, row)) for any supported source."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(os.path.expanduser(os.fspath(source)))
        return os.fspath(source), _read_jsonl(path, os.fspath(source), errors, warnings)
    if _is_hf(source, "DatasetDict", "IterableDatasetDict"):
        splits = ", ".join(repr(k) for k in source)
        errors.append(Problem("<dataset>", 0, "source", f"got a DatasetDict with splits {splits}; "
                              "pass one split, e.g. ds['train']"))
        return "<dataset>", []
    if _is_hf(source, "Dataset", "IterableDataset"):
        return "<dataset>", _dataset_rows(source, errors)
    if isinstance(source, (list, tuple)):
        if not source:
            errors.append(Problem("<list>", 0, "source", "no pairs: the list is empty"))
        return "<list>", enumerate(source, start=1)
    kind = type(source).__name__
    hint = {"dict": "; for a single pair wrap it in a list: [pair]",
            "DataFrame": "; use df.to_dict('records')"}.get(kind, "")
    errors.append(Problem("<source>", 0, "source", "expected a path to a .jsonl file, a list of "
                          f"dicts or a datasets.Dataset, got {kind}{hint}"))
    return "<source>", []


def _dataset_rows(ds, errors):
    columns = list(getattr(ds, "column_names", None) or [])
    if columns:
        missing = [c for c in ("chosen", "rejected") if c not in columns]
        if missing:
            for c in missing:
                errors.append(Problem("<dataset>", 0, c, f"the dataset has no {c!r} column "
                                      f"(columns: {', '.join(columns)}); rename one with "
                                      f"ds.rename_column(old, {c!r})"))
            return
    n = 0
    for n, row in enumerate(ds, start=1):
        if n == 1 and columns and "prompt" not in columns and not isinstance(row.get("chosen"), list):
            errors.append(Problem("<dataset>", 0, "prompt", f"the dataset has no 'prompt' column "
                                  f"(columns: {', '.join(columns)}); rename one with "
                                  "ds.rename_column(old, 'prompt')"))
            return
        yield n, row
    if n == 0:
        errors.append(Problem("<dataset>", 0, "source", "no pairs: the dataset has no rows"))


# ---------------------------------------------------------------- checking one row

def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"a boolean ({json.dumps(v)})"
    if isinstance(v, numbers.Number):
        return f"a number ({v!r:.40})"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return f"a {type(v).__name__}"


def _text(value, field, what=None):
    """Check a non-empty string; `what` names it in messages (default: the field itself)."""
    what = what or "is"
    if value is None:
        raise _Bad(field, f"{what} null; expected a non-empty string")
    if not isinstance(value, str):
        raise _Bad(field, f"{what} {_kind(value)}; expected a string")
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
        raise _Bad(field, f"is {_kind(value)}; expected a string or a list of messages like "
                   '[{"role": "user", "content": "..."}]')
    if not value:
        raise _Bad(field, "is an empty list of messages")
    out = []
    for i, m in enumerate(value, start=1):
        if not isinstance(m, dict):
            raise _Bad(field, f"message {i} is {_kind(m)}; expected an object like "
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


def _prompt_from(messages, notes):
    """(system, prompt) from prompt messages: the last user message and the system message."""
    users = [i for i, (role, _) in enumerate(messages) if role == "user"]
    if not users:
        raise _Bad("prompt", "has no user message")
    systems = [c for role, c in messages if role == "system"]
    if len(systems) > 1:
        raise _Bad("prompt", "has more than one system message; keep one")
    dropped = sum(1 for role, _ in messages if role != "system") - 1
    if dropped:
        notes.append(("prompt", "multi-turn prompt: only the last user message is kept"))
    system = systems[0] if systems and systems[0].strip() else None
    return system, messages[users[-1]][1]


def _conversational(row, notes):
    """Normalise TRL's conversational forms; return (system, prompt, chosen, rejected)."""
    chosen, rejected = row.get("chosen"), row.get("rejected")
    for field in ("chosen", "rejected"):
        if field not in row:
            raise _Bad(field, "missing; every row needs prompt, chosen and rejected")
    if isinstance(chosen, str) or isinstance(rejected, str):
        field = "chosen" if isinstance(chosen, str) else "rejected"
        raise _Bad(field, "is a string but other fields are message lists; use the same "
                   "form (all strings or all message lists) for prompt, chosen and rejected")
    if "prompt" in row:  # explicit prompt
        if isinstance(row["prompt"], str):
            raise _Bad("prompt", "is a string but chosen/rejected are message lists; use a list "
                       'like [{"role": "user", "content": "..."}] or plain strings for all three')
        system, prompt = _prompt_from(_messages(row["prompt"], "prompt"), notes)
        return (system, prompt, _reply(_messages(chosen, "chosen"), "chosen", True),
                _reply(_messages(rejected, "rejected"), "rejected", True))
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
    system, prompt = _prompt_from(cm[:-1], notes)
    return system, prompt, c, r


def _is_response_row(row) -> bool:
    return isinstance(row, dict) and "response" in row and "chosen" not in row and "rejected" not in row


def _check_row(row, notes, responses=False):
    """Return a normalised pair (or, with `responses`, a prompt/response row) or raise _Bad;
    append (field, message) notes to `notes`."""
    if not isinstance(row, dict):
        raise _Bad("row", f"is {_kind(row)}; expected a JSON object like {EXAMPLE}")
    pair = {}
    if responses and _is_response_row(row):
        for field in ("prompt", "response"):
            if field not in row:
                raise _Bad(field, "missing; a row to score needs prompt and response (or prompt, chosen, rejected)")
            pair[field] = _text(row[field], field)
    elif any(isinstance(row.get(k), (list, tuple)) for k in REQUIRED):
        system, *texts = _conversational(row, notes)
        pair.update(zip(REQUIRED, texts))
        if system is not None:
            if row.get("system") is not None:
                raise _Bad("system", "given both as a 'system' field and as a system message "
                           "in prompt; keep one")
            pair["system"] = system
    else:
        for field in REQUIRED:
            if field not in row:
                raise _Bad(field, "missing; every row needs prompt, chosen and rejected")
            pair[field] = _text(row[field], field)
    if "chosen" in pair and pair["chosen"] == pair["rejected"]:
        raise _Bad("rejected", "is identical to chosen; a preference pair needs two different "
                   "responses")
    if "chosen" in pair and pair["chosen"].strip() == pair["rejected"].strip():
        notes.append(("rejected", "differs from chosen only in leading/trailing whitespace"))
    # Optional fields: None means absent (datasets fill missing values with None).
    if row.get("system") is not None and "system" not in pair:
        pair["system"] = _text(row["system"], "system")
    if row.get("id") is not None:
        v = row["id"]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _Bad("id", f"is {_kind(v)}; expected a string or an integer")
        pair["id"] = v
    if row.get("category") is not None:
        if not isinstance(row["category"], str):
            raise _Bad("category", f"is {_kind(row['category'])}; expected a string")
        pair["category"] = row["category"]
    if row.get("margin") is not None:
        v = row["margin"]
        try:
            ok = (isinstance(v, numbers.Real) and not isinstance(v, bool)
                  and math.isfinite(float(v)))
        except (OverflowError, ValueError, TypeError):
            ok = False
        if not ok:
            raise _Bad("margin", f"is {_kind(v)}; expected a finite number (how much better "
                       "chosen is than rejected)")
        pair["margin"] = float(v)
    return pair


# ---------------------------------------------------------------- public API

def validate(source, responses=False):
    """Return (pairs, errors, warnings). Never raises for bad data; never modifies the file.

    `source` is a path to a .jsonl file, a list of dicts or a `datasets.Dataset`. Each pair is a
    `Pair`: `{"prompt", "chosen", "rejected"}` plus any of `system`, `id`, `category`, `margin`,
    and `pair.line` (1-based line in the file, or row index + 1). With `responses=True`, rows to
    score `{"prompt", "response"}` are accepted too (and may repeat).
    """
    errors, warnings = [], []
    pairs, seen, ids, counts = [], {}, {}, {}
    name = "<source>"
    try:
        name, rows = _rows(source, errors, warnings)
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
                errors.append(Problem(name, line, bad.field, bad.message))
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
            key = (pair.get("system"), pair["prompt"], pair["chosen"], pair["rejected"])
            if key in seen:
                errors.append(Problem(name, line, "row", f"duplicate of line {seen[key]} (same "
                                      "prompt, chosen and rejected); remove one copy"))
                continue
            seen[key] = line
            swapped = (key[0], key[1], key[3], key[2])
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


def load_pairs(source):
    """validate(); raise DataError if there are errors; print warnings (to stderr) otherwise;
    return the pairs."""
    pairs, errors, warnings = validate(source)
    if errors:
        raise DataError(errors)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return pairs


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
