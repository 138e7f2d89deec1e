"""Read preference rows from files, folders, lists and datasets, for `nbhelpers.data` to check.

Accepted sources, and what LINE means in `FILE:LINE: FIELD: message` (0 is the source itself):

- `.jsonl` (or any other file name), one JSON object per line: LINE is the line in the file.
- `.json`, a JSON array of objects or an object with exactly one list of them (`{"data": [...]}`):
  LINE is the 1-based index in the array.
- `.csv` / `.tsv` with a header row: LINE is the data row number (1 = the first row after the
  header; a quoted cell spanning several lines is one row; blank rows are skipped but counted).
- `.jsonl.gz`, `.json.gz`, `.csv.gz`, `.tsv.gz`: unpacked in memory, then as above.
- `.parquet`, read with pyarrow: LINE is the row index + 1.
- a folder written by `Dataset.save_to_disk`, a `datasets.Dataset`, or a list/tuple of dicts:
  LINE is the row index + 1.

A file whose bytes say it is something else (UTF-16, gzip, zip, Parquet) is not guessed at: the
problem says how to re-save or rename it. Files are only ever opened read-only.

Every row comes out as a plain dict with the user's columns renamed by `fields` (kit field ->
user column, e.g. `{"prompt": "question"}`), and Anthropic HH-style transcripts (`chosen` and
`rejected` both whole "Human: ... Assistant: ..." conversations, no `prompt`) turned into message
lists: the implicit-prompt form that `nbhelpers.data` checks.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import numbers
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Binary formats people pass by mistake: (magic bytes, what it is, what to do).
_MAGIC = (
    (b"\xff\xfe", "UTF-16 text", "re-save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text", "re-save it as UTF-8"),
    (b"\x1f\x8b", "a gzip archive", "add .gz to its name to read it as it is, or unpack it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive", "unpack it first"),
    (b"PAR1", "a Parquet file", "name it .parquet"),
)
_FORMATS = {".json": "JSON", ".csv": "CSV", ".tsv": "TSV", ".parquet": "Parquet"}  # else JSONL
_MAP_FLAG = "map one with --{0}-field COLUMN"   # how a file user supplies a missing column {0}
_ACCEPTED = ".jsonl, .json, .csv, .tsv or .parquet file (optionally .gz), a Dataset.save_to_disk folder"
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}
REQUIRED = ("prompt", "chosen", "rejected")
OPTIONAL = ("id", "category", "margin", "system")
KNOWN = REQUIRED + OPTIONAL
ROLES = ("system", "user", "assistant")
EXAMPLE = '{"prompt": "...", "chosen": "...", "rejected": "..."}'


@dataclass(frozen=True)
class Problem:
    """One problem in the data; str() is `FILE:LINE: FIELD: message`."""

    source: str
    line: int
    field: str
    message: str

    def __str__(self):
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


def kind_of(v) -> str:
    """How a value is described in a problem message: "null", "a list", "a number (3)", ..."""
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


def _is_hf(obj, *names):
    return any(c.__module__.split(".")[0] == "datasets" and c.__name__ in names
               for c in type(obj).__mro__)


# ---------------------------------------------------------------- public API

def field_label(field, fields) -> str:
    """How to name a kit field in messages: "question (mapped to prompt)" if mapped, else the field."""
    column = (fields or {}).get(field)
    return f"{column} (mapped to {field})" if column not in (None, field) else field


def transcript_messages(text) -> list[dict] | None:
    """Split an HH-RLHF transcript ("\\n\\nHuman: ...\\n\\nAssistant: ...") into chat messages.

    Turns start at "\\n\\nHuman:" / "\\n\\nAssistant:" (the first may be a bare "Human:"); contents
    are stripped and may be empty. None if `text` is not a transcript: it must start with a Human
    turn and have an Assistant turn.
    """
    if not isinstance(text, str) or not text.lstrip().startswith("Human:"):
        return None
    parts = _TURN.split("\n\n" + text.lstrip())  # ["", "Human", " ...", "Assistant", " ...", ...]
    messages = [{"role": _ROLE[who], "content": said.strip()}
                for who, said in zip(parts[1::2], parts[2::2])]
    return messages if any(m["role"] == "assistant" for m in messages) else None


def read_rows(source, errors: list, warnings: list,
              fields: dict | None = None) -> tuple[str, Iterable[tuple[int, object]]]:
    """(name for messages, iterable of (line, row)) for any supported source.

    Problems are appended to `errors`/`warnings` as `data.Problem`s (some only while iterating);
    bad data never raises. `fields` maps kit field names to the user's columns; None values are
    ignored (flags left unset).
    """
    fields = {k: v for k, v in (fields or {}).items() if v is not None}
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        return name, _path_rows(Path(os.path.expanduser(name)), name, errors, warnings, fields)
    if _is_hf(source, "DatasetDict", "IterableDatasetDict"):
        splits = ", ".join(repr(k) for k in source)
        errors.append(Problem("<dataset>", 0, "source", f"got a DatasetDict with splits {splits}; "
                               "pass one split, e.g. ds['train']"))
        return "<dataset>", []
    if _is_hf(source, "Dataset", "IterableDataset"):
        how = "rename one with ds.rename_column(COLUMN, {0!r}) or map one with fields={{{0!r}: COLUMN}}"
        return "<dataset>", _table_rows("<dataset>", "dataset", getattr(source, "column_names", None),
                                        enumerate(source, start=1), errors, fields, how)
    if isinstance(source, (list, tuple)):
        if not source:
            errors.append(Problem("<list>", 0, "source", "no pairs: the list is empty"))
        return "<list>", ((n, _convert(row, fields)) for n, row in enumerate(source, start=1))
    kind = type(source).__name__
    hint = {"dict": "; for a single pair wrap it in a list: [pair]",
            "DataFrame": "; use df.to_dict('records')"}.get(kind, "")
    errors.append(Problem("<source>", 0, "source", f"expected a path to a {_ACCEPTED}, a list of "
                           f"dicts or a datasets.Dataset, got {kind}{hint}"))
    return "<source>", []


# ---------------------------------------------------------------- rows

def _rename(row, fields):
    """A plain dict: each mapped column's value under the kit's field name."""
    out = {k: v for k, v in row.items() if k not in fields.values()}
    out.update({kit: row[column] for kit, column in fields.items() if column in row})
    return out


def _convert(row, fields):
    """Rename a dict row; turn HH-style transcripts (both chosen and rejected, no prompt) into
    message lists. Anything that is not a dict is left for the validator to report."""
    if not isinstance(row, dict):
        return row
    row = _rename(row, fields)
    if "prompt" not in row:
        chosen, rejected = transcript_messages(row.get("chosen")), transcript_messages(row.get("rejected"))
        if chosen is not None and rejected is not None:
            row["chosen"], row["rejected"] = chosen, rejected
    return row


def _table_rows(name, what, columns, rows, errors, fields, how):
    """Yield (line, converted row) from (line, row) of a table whose columns are known (or None).

    Missing columns are one problem each at line 0 instead of one per row; `how` is a format
    string saying how to supply column {0}.
    """
    columns = list(columns or [])
    if columns:
        cols = ", ".join(columns)
        absent = [kit for kit, column in fields.items() if column not in columns]
        for kit in absent:
            errors.append(Problem(name, 0, field_label(kit, fields),
                                   f"the {what} has no {fields[kit]!r} column (columns: {cols})"))
        if absent:
            return
        renamed = _rename(dict.fromkeys(columns), fields)
        absent = [c for c in ("chosen", "rejected") if c not in renamed]
        for c in absent:
            errors.append(Problem(name, 0, c, f"the {what} has no {c!r} column (columns: {cols}); "
                                   + how.format(c)))
        if absent:
            return
    first = True
    for line, row in rows:
        row = _convert(row, fields)
        if first and columns and "prompt" not in row and not isinstance(row.get("chosen"), list):
            errors.append(Problem(name, 0, "prompt", f"the {what} has no 'prompt' column "
                                   f"(columns: {cols}); " + how.format("prompt")))
            return
        first = False
        yield line, row
    if first:
        errors.append(Problem(name, 0, "source" if what == "dataset" else "file",
                               f"no pairs: the {what} has no rows"))


# ---------------------------------------------------------------- paths

def _path_rows(path, name, errors, warnings, fields):
    if not path.exists():
        hint = ""
        if str(path).lstrip().startswith(("{", "[")):
            hint = " (this looks like JSON text: pass a path, or a list of dicts)"
        errors.append(Problem(name, 0, "file", f"file not found{hint}; check the path "
                               f"(relative paths start from {os.getcwd()})"))
        return []
    if path.is_dir():
        return _folder_rows(path, name, errors, fields)
    gz = path.name.lower().endswith(".gz")
    kind = _FORMATS.get(os.path.splitext(path.name.lower()[:-3] if gz else path.name.lower())[1], "JSONL")
    if kind == "Parquet":
        return _parquet_rows(path, name, errors, fields)
    data = _read_bytes(path, name, kind, gz, errors)
    if data is None:
        return []
    if kind in ("CSV", "TSV"):
        return _csv_rows(data, name, kind, errors, warnings, fields)
    rows = (_json_rows if kind == "JSON" else _jsonl_rows)(data, name, errors, warnings)
    return ((n, _convert(row, fields)) for n, row in rows)


def _folder_rows(path, name, errors, fields):
    if (path / "dataset_dict.json").exists():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").exists())
        split = "train" if "train" in splits else (splits or ["SPLIT"])[0]
        errors.append(Problem(name, 0, "file", f"is a saved DatasetDict with splits "
                               f"{', '.join(map(repr, splits))}; pass one split's folder, e.g. "
                               f"{os.path.join(name, split)}"))
        return []
    if not ((path / "state.json").exists() or (path / "dataset_info.json").exists()):
        errors.append(Problem(name, 0, "file", f"is a directory, not a file; pass a {_ACCEPTED} "
                               "(a folder is read only if save_to_disk wrote it)"))
        return []
    try:
        from datasets import load_from_disk
        ds = load_from_disk(str(path))
    except Exception as e:
        errors.append(Problem(name, 0, "file", f"cannot load the saved dataset ({type(e).__name__}: {e})"))
        return []
    return _table_rows(name, "dataset", ds.column_names, enumerate(ds, start=1), errors, fields,
                       _MAP_FLAG)


def _parquet_rows(path, name, errors, fields):
    try:
        import pyarrow.parquet as pq
        table = pq.ParquetFile(path)
    except Exception as e:
        errors.append(Problem(name, 0, "file", f"cannot read the Parquet file ({type(e).__name__}: {e})"))
        return
    with table:
        rows = (row for batch in table.iter_batches() for row in batch.to_pylist())
        yield from _table_rows(name, "file", table.schema_arrow.names, enumerate(rows, start=1),
                               errors, fields, _MAP_FLAG)


def _read_bytes(path, name, kind, gz, errors):
    """The file's bytes (unpacked if gz, without a UTF-8 byte order mark), or None after a problem."""
    try:
        with open(path, "rb") as f:  # read-only
            data = f.read()
        if gz:
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        what = "unpack the gzip file" if gz else "read the file"
        errors.append(Problem(name, 0, "file", f"cannot {what}: {getattr(e, 'strerror', None) or e}"))
        return None
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark (Windows editors)
        data = data[3:]
    if not data.strip():
        what = "the file is empty" if not data else "the file has only blank lines"
        how = {"JSONL": f"one JSON object per line like {EXAMPLE}", "JSON": f"a JSON array like [{EXAMPLE}]"
               }.get(kind, "a header line prompt,chosen,rejected and one row per pair")
        errors.append(Problem(name, 0, "file", f"no pairs: {what}; write {how}"))
        return None
    for magic, what, todo in _MAGIC:
        if data.startswith(magic):
            errors.append(Problem(name, 0, "file", f"this looks like {what}, not {kind} text; {todo}"))
            return None
    return data


def _decode(data, name, errors):
    """The whole file as text, or None after a problem."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        errors.append(Problem(name, 0, "encoding", f"not valid UTF-8 (byte 0x{data[e.start]:02x} on "
                               f"line {line} of the file); re-save the file as UTF-8"))
        return None


def _loads(text):
    """json.loads, plus {id(obj): (obj, [keys given twice])} for each object with duplicate keys
    (obj is kept so that its id stays unique)."""
    dupes = {}

    def hook(items):
        obj = dict(items)
        if len(obj) < len(items):
            dupes[id(obj)] = (obj, _repeated(k for k, _ in items))
        return obj

    return json.loads(text, object_pairs_hook=hook), dupes


def _repeated(keys):
    """The keys that occur more than once, each once, in order."""
    seen, out = set(), {}
    for key in keys:
        if key in seen:
            out[key] = None
        seen.add(key)
    return list(out)


def _warn_dupes(name, line, keys, warnings, what="key"):
    for key in keys:
        warnings.append(Problem(name, line, str(key),
                                 f"this {what} appears more than once; the last value is used"))


def _jsonl_rows(data, name, errors, warnings):
    """Yield (line, value) for each non-blank line; bad lines become problems."""
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
        try:
            value, dupes = _loads(text)
        except json.JSONDecodeError as e:
            errors.append(Problem(name, number, "json", f"invalid JSON: {e.msg} at column "
                                   f"{e.colno}; each line must be one complete JSON object"))
            continue
        except Exception as e:  # e.g. RecursionError on absurd nesting
            errors.append(Problem(name, number, "json", f"cannot parse this line ({type(e).__name__})"))
            continue
        _warn_dupes(name, number, dict.fromkeys(k for _, keys in dupes.values() for k in keys), warnings)
        yield number, value


def _json_rows(data, name, errors, warnings):
    """Yield (index + 1, value) for each item of the file's array; a bad file is one problem."""
    text = _decode(data, name, errors)
    if text is None:
        return
    try:
        value, dupes = _loads(text)
    except json.JSONDecodeError as e:
        hint = ("this looks like JSONL (one object per line): name it .jsonl" if e.msg == "Extra data"
                else "the file must be one JSON array of objects")
        errors.append(Problem(name, 0, "json", f"invalid JSON: {e.msg} at line {e.lineno} column "
                               f"{e.colno}; {hint}"))
        return
    except Exception as e:  # e.g. RecursionError on absurd nesting
        errors.append(Problem(name, 0, "json", f"cannot parse the file ({type(e).__name__})"))
        return
    lists = [k for k, v in value.items() if isinstance(v, list)] if isinstance(value, dict) else []
    if len(lists) == 1:
        value = value[lists[0]]
    if not isinstance(value, list):
        got = kind_of(value) if not isinstance(value, dict) else "an object with " + (
            f"{len(lists)} lists ({', '.join(lists)})" if lists else "no list in it")
        errors.append(Problem(name, 0, "file", f"expected a JSON array of pairs like [{EXAMPLE}], or an "
                               f'object with exactly one such list like {{"data": [...]}}; got {got}'))
        return
    if not value:
        errors.append(Problem(name, 0, "file", "no pairs: the JSON list is empty"))
    for number, row in enumerate(value, start=1):
        _warn_dupes(name, number, dupes.get(id(row), (None, ()))[1], warnings)
        yield number, row


def _csv_rows(data, name, kind, errors, warnings, fields):
    """(line, row) for each data row of a CSV/TSV file. Cells are strings ("" if empty), except in
    the optional columns (id, category, margin, system): there an empty cell is None (absent) and
    a margin that reads as a number is a float."""
    text = _decode(data, name, errors)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if kind == "TSV" else ",")
    try:
        header, *records = list(reader)
    except csv.Error as e:
        errors.append(Problem(name, 0, "file", f"not valid {kind}: {e} (line {reader.line_num} of "
                               "the file); check the quoting"))
        return []
    _warn_dupes(name, 0, _repeated(header), warnings, "column")
    optional = {fields.get(f, f): f for f in OPTIONAL}

    def rows():
        for number, cells in enumerate(records, start=1):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                errors.append(Problem(name, number, "row", f"has {len(cells)} cells but the header has "
                                       f"{len(header)}; check the delimiter and the quoting"))
                continue
            row = dict(zip(header, cells))
            for column, field in optional.items():
                if row.get(column) == "":
                    row[column] = None
                elif field == "margin" and column in row:
                    try:
                        row[column] = float(row[column])
                    except ValueError:
                        pass  # the validator says it is not a number
            yield number, row

    return _table_rows(name, "file", header, rows(), errors, fields, _MAP_FLAG)
