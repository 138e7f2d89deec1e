"""Tests for nbhelpers.sources: every format gives the rows of the equivalent JSONL, numbered as
documented, and every problem is one `FILE:LINE: FIELD: message`."""

import gzip
import json
import os

import pytest

from nbhelpers.data import EXAMPLE, validate
from nbhelpers.sources import field_label, read_rows, transcript_messages

ROWS = [{"prompt": "q1", "chosen": 'good, "1"\nsecond line', "rejected": "bad 1", "category": "math"},
        {"prompt": "q2", "chosen": "good 2", "rejected": "bad\t2", "category": "chat"}]
MAPPED = [{"question": r["prompt"], "good": r["chosen"], "bad": r["rejected"]} for r in ROWS]
FIELDS = {"prompt": "question", "chosen": "good", "rejected": "bad"}
PLAIN = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in ROWS]


def read(source, fields=None):
    """read_rows, then (list of (line, row), errors as str, warnings as str)."""
    errors, warnings = [], []
    _, rows = read_rows(source, errors, warnings, fields)
    rows = list(rows)
    return rows, [str(e) for e in errors], [str(w) for w in warnings]


def only_error(source, message, fields=None):
    rows, errors, _ = read(source, fields)
    assert rows == [] and errors == [message]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_csv(path, rows, delimiter=","):
    import csv
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


def write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pylist(rows), path)


def save_to_disk(path, rows):
    from datasets import Dataset
    Dataset.from_list(rows).save_to_disk(str(path))


WRITERS = {
    "p.jsonl": write_jsonl,
    "p.jsonl.gz": lambda p, rows: p.write_bytes(gzip.compress("".join(f"{json.dumps(r)}\n" for r in rows).encode())),
    "p.json": lambda p, rows: p.write_text(json.dumps(rows, indent=1)),
    "p.json.gz": lambda p, rows: p.write_bytes(gzip.compress(json.dumps(rows).encode())),
    "wrapped.json": lambda p, rows: p.write_text(json.dumps({"version": 2, "data": rows})),
    "p.csv": write_csv,
    "p.tsv": lambda p, rows: write_csv(p, rows, delimiter="\t"),
    "p.parquet": write_parquet,
    "saved": save_to_disk,
}


def snapshot(path):
    """{file: (bytes, mtime)} for a file or every file in a folder."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in files}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_format_gives_the_jsonl_rows_and_leaves_the_file_alone(tmp_path, name, capfd):
    jsonl, path = tmp_path / "ref.jsonl", tmp_path / name
    write_jsonl(jsonl, ROWS)
    WRITERS[name](path, ROWS)
    before = snapshot(path)
    for p in before:
        os.chmod(p, 0o444)  # read-only: any attempt to write would fail
    capfd.readouterr()
    try:
        assert read(path) == read(jsonl) == ([(1, ROWS[0]), (2, ROWS[1])], [], [])
        assert capfd.readouterr() == ("", "")  # never prints
    finally:
        for p in before:
            os.chmod(p, 0o644)
    assert snapshot(path) == before


def test_line_numbers_per_format(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(f"\n{json.dumps(PLAIN[0])}\n  \n{json.dumps(PLAIN[1])}\n")
    assert [n for n, _ in read(f)[0]] == [2, 4]                    # JSONL: the line in the file
    f = tmp_path / "p.json"
    f.write_text(json.dumps([PLAIN[0], "oops", PLAIN[1]]))
    assert [n for n, _ in read(f)[0]] == [1, 2, 3]                 # JSON: the index in the array + 1
    f = tmp_path / "p.csv"                                         # CSV: data row (header not counted)
    f.write_text('prompt,chosen,rejected\nq1,"one\n""two"",\nthree",b1\n\n,,\nq3,c3,b3\n')
    rows, errors, _ = read(f)
    assert errors == [] and [n for n, _ in rows] == [1, 4]         # blank rows skipped but counted
    assert rows[0][1]["chosen"] == 'one\n"two",\nthree'            # a quoted multi-line cell is one row
    f = tmp_path / "p.parquet"
    write_parquet(f, PLAIN * 3)
    assert [n for n, _ in read(f)[0]] == [1, 2, 3, 4, 5, 6]       # Parquet: row index + 1


def test_jsonl_checks_are_kept(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_bytes(b'{"prompt": "p", "chosen": "a", "rejected": "b", "chosen": "c"}\n{bad\n'
                  b'{"prompt": "caf\xe9"}\n')
    rows, errors, warnings = read(f)
    assert rows == [(1, {"prompt": "p", "chosen": "c", "rejected": "b"})]
    assert errors == [f"{f}:2: json: invalid JSON: Expecting property name enclosed in double quotes at "
                      "column 2; each line must be one complete JSON object",
                      f"{f}:3: encoding: not valid UTF-8 (byte 0xe9 at column 16); re-save the file as UTF-8"]
    assert warnings == [f"{f}:1: chosen: this key appears more than once; the last value is used"]
    f.write_bytes(b"")
    assert read(f)[1][0].startswith(f"{f}:0: file: no pairs: the file is empty; write one JSON object")


def test_misnamed_and_broken_files(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_bytes(gzip.compress(b"{}\n"))
    only_error(f, f"{f}:0: file: this looks like a gzip archive, not JSONL text; add .gz to its name "
               "to read it as it is, or unpack it first (gunzip)")
    write_parquet(f, PLAIN)
    only_error(f, f"{f}:0: file: this looks like a Parquet file, not JSONL text; name it .parquet")
    f = tmp_path / "p.csv"
    f.write_bytes(b"PAR1 junk")
    only_error(f, f"{f}:0: file: this looks like a Parquet file, not CSV text; name it .parquet")
    f = tmp_path / "p.jsonl.gz"
    f.write_bytes(b'{"prompt": "not packed"}\n')
    assert read(f)[1][0].startswith(f"{f}:0: file: cannot unpack the gzip file: Not a gzipped file")
    f = tmp_path / "p.parquet"
    f.write_text("prompt,chosen,rejected\n")
    assert read(f)[1][0].startswith(f"{f}:0: file: cannot read the Parquet file (ArrowInvalid: ")


def test_json_shapes(tmp_path):
    f = tmp_path / "p.json"
    f.write_text('[{"prompt": "p", "chosen": "a", "chosen": "c"}, {"prompt": "q", "prompt": "r"}]')
    rows, errors, warnings = read(f)
    assert rows == [(1, {"prompt": "p", "chosen": "c"}), (2, {"prompt": "r"})] and errors == []
    assert warnings == [f"{f}:1: chosen: this key appears more than once; the last value is used",
                        f"{f}:2: prompt: this key appears more than once; the last value is used"]
    for text, got in [('{"train": [], "test": []}', "an object with 2 lists (train, test)"),
                      (json.dumps(PLAIN[0]), "an object with no list in it"), ("3", "a number (3)")]:
        f.write_text(text)
        only_error(f, f"{f}:0: file: expected a JSON array of pairs like [{EXAMPLE}], or an object with "
                   f'exactly one such list like {{"data": [...]}}; got {got}')
    f.write_text(json.dumps(PLAIN[0]) + "\n" + json.dumps(PLAIN[1]) + "\n")
    only_error(f, f"{f}:0: json: invalid JSON: Extra data at line 2 column 1; this looks like JSONL "
               "(one object per line): name it .jsonl")
    f.write_text('{"data": []}')
    only_error(f, f"{f}:0: file: no pairs: the JSON list is empty")
    f.write_bytes(b'[\n{"prompt": "caf\xe9"}]')
    only_error(f, f"{f}:0: encoding: not valid UTF-8 (byte 0xe9 on line 2 of the file); "
               "re-save the file as UTF-8")


def test_csv_cells(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b"\xef\xbb\xbfprompt,chosen,rejected,margin,id,category\n"  # Excel's byte order mark
                  b"q1,,b1,1.5,,\nq2,c2,b2,,7,x\nq3,c3,b3,lots,8\n")
    rows, errors, _ = read(f)
    assert rows == [(1, {"prompt": "q1", "chosen": "", "rejected": "b1", "margin": 1.5, "id": None,
                         "category": None}),
                    (2, {"prompt": "q2", "chosen": "c2", "rejected": "b2", "margin": None, "id": "7",
                         "category": "x"})]
    assert errors == [f"{f}:3: row: has 5 cells but the header has 6; check the delimiter and the quoting"]
    assert [str(e) for e in validate([r for _, r in rows])[1]] == ["<list>:1: chosen: is empty"]
    f.write_text("prompt,chosen,rejected\n")
    only_error(f, f"{f}:0: file: no pairs: the file has no rows")
    f.write_bytes(b"\xef\xbb\xbf\r\n")
    only_error(f, f"{f}:0: file: no pairs: the file has only blank lines; write a header line "
               "prompt,chosen,rejected and one row per pair")
    f.write_text("prompt;chosen;rejected\nq;c;b\n")
    assert read(f)[:2] == ([], [f"{f}:0: {c}: the file has no '{c}' column (columns: prompt;chosen;rejected); "
                                f"map one with --{c}-field COLUMN" for c in ("chosen", "rejected")])


def test_saved_dataset_dict_and_plain_folders(tmp_path):
    from datasets import Dataset, DatasetDict
    d = tmp_path / "saved"
    DatasetDict({"train": Dataset.from_list(ROWS), "test": Dataset.from_list(ROWS[:1])}).save_to_disk(str(d))
    only_error(d, f"{d}:0: file: is a saved DatasetDict with splits 'test', 'train'; pass one split's "
               f"folder, e.g. {d / 'train'}")
    assert read(d / "test") == ([(1, ROWS[0])], [], [])
    only_error(tmp_path, f"{tmp_path}:0: file: is a directory, not a file; pass a .jsonl, .json, .csv, "
               ".tsv or .parquet file (optionally .gz), a Dataset.save_to_disk folder (a folder is read "
               "only if save_to_disk wrote it)")


def test_other_sources():
    from datasets import Dataset, DatasetDict
    rows = [dict(r) for r in ROWS] + ["oops"]
    assert read(rows) == ([(1, ROWS[0]), (2, ROWS[1]), (3, "oops")], [], [])
    assert read(Dataset.from_list(ROWS)) == ([(1, ROWS[0]), (2, ROWS[1])], [], [])
    only_error(DatasetDict({"train": Dataset.from_list(ROWS)}), "<dataset>:0: source: got a DatasetDict "
               "with splits 'train'; pass one split, e.g. ds['train']")
    only_error(Dataset.from_list([]), "<dataset>:0: source: no pairs: the dataset has no rows")
    only_error([], "<list>:0: source: no pairs: the list is empty")
    only_error(42, "<source>:0: source: expected a path to a .jsonl, .json, .csv, .tsv or .parquet file "
               "(optionally .gz), a Dataset.save_to_disk folder, a list of dicts or a datasets.Dataset, "
               "got int")
    rows, errors, _ = read("nope.jsonl")
    assert errors[0].startswith("nope.jsonl:0: file: file not found; check the path")


# ---------------------------------------------------------------- column mapping

def test_mapping_on_jsonl_and_lists(tmp_path):
    f = tmp_path / "p.jsonl"
    write_jsonl(f, MAPPED + [{"good": "c", "bad": "b", "extra": 1}])
    assert read(f, FIELDS) == ([(1, PLAIN[0]), (2, PLAIN[1]), (3, {"extra": 1, "chosen": "c",
                                                                   "rejected": "b"})], [], [])
    # a missing mapped column is left to the validator, which names the kit field
    assert [str(e) for e in validate([r for _, r in read(f, FIELDS)[0]])[1]][-1].startswith(
        "<list>:3: prompt: missing")
    rows = [dict(r) for r in MAPPED]
    assert read(rows, {**FIELDS, "id": None}) == ([(1, PLAIN[0]), (2, PLAIN[1])], [], [])  # None: unset
    assert rows == MAPPED                                                                  # input untouched
    swapped = read(PLAIN, {"chosen": "rejected", "rejected": "chosen"})[0]
    assert [(r["chosen"], r["rejected"]) for _, r in swapped] == [(r["rejected"], r["chosen"]) for r in PLAIN]


def test_mapping_on_csv_and_dataset(tmp_path):
    from datasets import Dataset
    f = tmp_path / "p.csv"
    write_csv(f, MAPPED)
    assert read(f, FIELDS) == ([(1, PLAIN[0]), (2, PLAIN[1])], [], [])
    ds = Dataset.from_list(MAPPED)
    assert read(ds, FIELDS) == ([(1, PLAIN[0]), (2, PLAIN[1])], [], [])
    only_error(f, f"{f}:0: prompt: the file has no 'prompt' column (columns: question, good, bad); "
               "map one with --prompt-field COLUMN", {"chosen": "good", "rejected": "bad"})
    only_error(f, f"{f}:0: query (mapped to prompt): the file has no 'query' column (columns: question, "
               "good, bad)", {**FIELDS, "prompt": "query"})
    only_error(ds, "<dataset>:0: query (mapped to prompt): the dataset has no 'query' column (columns: "
               "question, good, bad)", {**FIELDS, "prompt": "query"})
    rows, errors, _ = read(ds, {"prompt": "question"})
    assert rows == [] and errors == [
        "<dataset>:0: chosen: the dataset has no 'chosen' column (columns: question, good, bad); rename one "
        "with ds.rename_column(COLUMN, 'chosen') or map one with fields={'chosen': COLUMN}",
        "<dataset>:0: rejected: the dataset has no 'rejected' column (columns: question, good, bad); "
        "rename one with ds.rename_column(COLUMN, 'rejected') or map one with fields={'rejected': COLUMN}"]


def test_field_label():
    assert field_label("prompt", FIELDS) == "question (mapped to prompt)"
    assert field_label("margin", FIELDS) == "margin"
    assert field_label("prompt", None) == "prompt"
    assert field_label("prompt", {"prompt": "prompt"}) == "prompt"


# ---------------------------------------------------------------- HH-style transcripts

def test_transcript_messages():
    assert transcript_messages("\n\nHuman: Hi there\n\nAssistant:  Hello!\n\nHuman: 2+2?\n\n"
                               "Assistant: 4\n") == [
        {"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert transcript_messages("Human: say 'Human: hi'\nHuman: again\n\nAssistant: Human: hi") == [
        {"role": "user", "content": "say 'Human: hi'\nHuman: again"},
        {"role": "assistant", "content": "Human: hi"}]
    assert transcript_messages("\n\nHuman: Hi\n\nAssistant:") == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]
    for text in ["Hello", "\n\nHuman: only a question", "\n\nAssistant: hi\n\nHuman: x",
                 "Question: Human: hi\n\nAssistant: x", "", None, 3]:
        assert transcript_messages(text) is None, text


def hh(*turns):
    return "".join(f"\n\n{who}: {said}" for who, said in zip(["Human", "Assistant"] * 9, turns))


def test_hh_rows_become_conversations(tmp_path):
    row = {"chosen": hh("Hi", "Hello!", "2+2?", "4"), "rejected": hh("Hi", "Hello!", "2+2?", "5"), "id": "a"}
    empty = {"chosen": hh("3+3?", "6"), "rejected": hh("3+3?", ""), "id": "b"}
    half = {"chosen": hh("Hi", "Hello"), "rejected": "Hello"}
    prompted = {"prompt": "x", "chosen": hh("Hi", "Hello"), "rejected": hh("Hi", "Yo")}
    rows, errors, _ = read([row, empty, half, prompted])
    assert errors == [] and rows[0] == (1, {"chosen": transcript_messages(row["chosen"]),
                                            "rejected": transcript_messages(row["rejected"]), "id": "a"})
    assert rows[1][1]["rejected"][-1] == {"role": "assistant", "content": ""}
    assert rows[2:] == [(3, half), (4, prompted)]                      # left for the validator
    pairs, errors, _ = validate([r for _, r in rows[:2]])                # the implicit-prompt form
    assert [(p["chosen"], p["rejected"], p["id"]) for p in pairs] == [("4", "5", "a")]
    assert [str(e) for e in errors] == ["<list>:2: rejected: message 2 content is empty"]
    from datasets import Dataset                                       # no prompt column: still accepted
    assert read(Dataset.from_list([row, empty]))[:2] == (rows[:2], [])
    f = tmp_path / "hh.csv"
    write_csv(f, [{"good": row["chosen"], "bad": row["rejected"]}])
    converted = {k: rows[0][1][k] for k in ("chosen", "rejected")}
    assert read(f, {"chosen": "good", "rejected": "bad"}) == ([(1, converted)], [], [])
