"""Tests for nbhelpers.data: every problem names FILE:LINE: FIELD."""

import json
import os

import pytest

from nbhelpers.data import DataError, Problem, load_pairs, split_pairs, too_long, validate

GOOD = {"prompt": "2+2?", "chosen": "4", "rejected": "5"}


def pair(i, **extra):
    return {"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}", **extra}


def write(tmp_path, *lines, name="pairs.jsonl"):
    """Write lines (dicts become JSON, str/bytes are written as is) and return the path as str."""
    path = tmp_path / name
    out = b""
    for line in lines:
        if isinstance(line, bytes):
            out += line + b"\n"
        elif isinstance(line, str):
            out += line.encode() + b"\n"
        else:
            out += json.dumps(line).encode() + b"\n"
    path.write_bytes(out)
    return str(path)


def errors_of(source):
    pairs, errors, warnings = validate(source)
    return [str(e) for e in errors]


def only_error(source, prefix):
    """Validate; assert there is exactly one error and that it starts with `prefix`."""
    errors = errors_of(source)
    assert len(errors) == 1, errors
    assert errors[0].startswith(prefix), errors[0]
    return errors[0]


# ---------------------------------------------------------------- good data

def test_good_plain_file(tmp_path):
    f = write(tmp_path, pair(1, id="a", category="math", margin=1.5), "", pair(2, id=7), "  ")
    pairs, errors, warnings = validate(f)
    assert errors == [] and warnings == []
    assert pairs == [
        {"prompt": "q1", "chosen": "good 1", "rejected": "bad 1", "id": "a", "category": "math",
         "margin": 1.5},
        {"prompt": "q2", "chosen": "good 2", "rejected": "bad 2", "id": 7},
    ]
    assert [p.line for p in pairs] == [1, 3]              # an attribute, not a key: pairs stay plain data
    assert load_pairs(f) == pairs
    assert [json.loads(json.dumps(p)) for p in pairs] == pairs


def test_path_object_crlf_and_bom(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n" +
                     json.dumps(pair(2)).encode() + b"\r\n")
    pairs = load_pairs(path)
    assert [p.line for p in pairs] == [1, 2]
    assert pairs[0]["prompt"] == "2+2?"


def test_good_conversational(tmp_path):
    row = {"prompt": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "2+2?"}],
           "chosen": [{"role": "assistant", "content": "4"}],
           "rejected": [{"role": "assistant", "content": "5"}], "category": "math"}
    no_system = {"prompt": [{"role": "user", "content": "3+3?"}],
                 "chosen": [{"role": "assistant", "content": "6"}],
                 "rejected": [{"role": "assistant", "content": "7"}]}
    pairs, errors, warnings = validate(write(tmp_path, row, no_system))
    assert errors == [] and warnings == []
    assert pairs == [
        {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
         "chosen": "4", "rejected": "5", "category": "math"},
        {"prompt": "3+3?", "chosen": "6", "rejected": "7"},
    ]


def test_good_implicit_prompt(tmp_path):
    user = {"role": "user", "content": "2+2?"}
    row = {"chosen": [user, {"role": "assistant", "content": "4"}],
           "rejected": [user, {"role": "assistant", "content": "5"}]}
    pairs, errors, warnings = validate(write(tmp_path, row))
    assert errors == [] and warnings == []
    assert pairs == [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}] and pairs[0].line == 1


def test_multi_turn_prompt_keeps_every_turn(tmp_path):
    turns = [{"role": "user", "content": "Which is bigger, 7 or 9?"}, {"role": "assistant", "content": "9."},
             {"role": "user", "content": "yep, and by how much?"}]
    explicit = {"prompt": turns, "chosen": [{"role": "assistant", "content": "By 2."}],
                "rejected": [{"role": "assistant", "content": "By 3."}]}
    implicit = {"chosen": turns + [{"role": "assistant", "content": "2"}],       # UltraFeedback style
                "rejected": turns + [{"role": "assistant", "content": "3"}]}
    pairs, errors, warnings = validate(write(tmp_path, explicit, implicit))
    assert errors == [] and warnings == []
    assert pairs[0] == {"prompt": turns, "chosen": "By 2.", "rejected": "By 3."}
    assert pairs[1] == {"prompt": turns, "chosen": "2", "rejected": "3"}


def test_validated_pairs_read_back_unchanged(tmp_path):
    """What the kit writes (e.g. the held-out split of --test-fraction) it reads back: a conversation prompt
    with plain-string replies."""
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
             {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "yep"}]
    rows = [{"prompt": turns, "chosen": "Good.", "rejected": "Bad.", "id": 1}, {"prompt": "2+2?", "chosen": "4", "rejected": "5"}]
    first, errors, _ = validate(rows)
    again, errors_again, _ = validate(write(tmp_path, *[dict(p) for p in first]))
    assert errors == errors_again == [] and again == first == rows


def test_system_field_joins_the_prompt(tmp_path):
    row = {"prompt": "2+2?", "chosen": "4", "rejected": "5", "system": "Be brief."}
    empty_system = {"prompt": [{"role": "system", "content": " "}, {"role": "user", "content": "3+3?"}],
                    "chosen": [{"role": "assistant", "content": "6"}], "rejected": [{"role": "assistant", "content": "7"}]}
    pairs, errors, _ = validate(write(tmp_path, row, empty_system))
    assert errors == []
    assert pairs[0]["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    assert pairs[1]["prompt"] == "3+3?" and "system" not in pairs[0]


def test_list_source():
    pairs, errors, warnings = validate([GOOD, pair(2, margin=2)])
    assert errors == [] and warnings == []
    assert pairs[1] == {**pair(2), "margin": 2.0} and pairs[1].line == 2
    assert isinstance(pairs[1]["margin"], float)


def test_dataset_source_uses_same_validator():
    from datasets import Dataset
    ds = Dataset.from_list([pair(1, margin=0.5), pair(2), {**pair(3), "chosen": ""}])
    pairs, errors, warnings = validate(ds)
    # margin is None in row 2 (datasets fills missing values): treated as absent
    assert [p.line for p in pairs] == [1, 2] and "margin" not in pairs[1]
    assert [str(e) for e in errors] == ["<dataset>:3: chosen: is empty"]
    with pytest.raises(DataError):
        load_pairs(ds)


def test_dataset_conversational():
    from datasets import Dataset
    user = {"role": "user", "content": "2+2?"}
    ds = Dataset.from_list([{"chosen": [user, {"role": "assistant", "content": "4"}],
                             "rejected": [user, {"role": "assistant", "content": "5"}]}])
    assert load_pairs(ds) == [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}]


def test_dataset_missing_column_reported_once():
    from datasets import Dataset
    ds = Dataset.from_list([{"question": "q", "good": "a", "bad": "b"}] * 50)
    errors = errors_of(ds)
    assert len(errors) == 2
    assert errors[0].startswith("<dataset>:0: chosen: the dataset has no 'chosen' column")
    assert "rename_column" in errors[0]
    ds = Dataset.from_list([{"question": "q", "chosen": "a", "rejected": "b"}] * 50)
    only_error(ds, "<dataset>:0: prompt: the dataset has no 'prompt' column")
    from datasets import DatasetDict
    only_error(DatasetDict({"train": ds}), "<dataset>:0: source: got a DatasetDict")
    only_error(Dataset.from_list([]), "<dataset>:0: source: no pairs")


# ---------------------------------------------------------------- file-level problems

def test_missing_file(tmp_path):
    f = str(tmp_path / "nope.jsonl")
    msg = only_error(f, f"{f}:0: file: file not found")
    assert "check the path" in msg


def test_directory(tmp_path):
    only_error(str(tmp_path), f"{tmp_path}:0: file: is a directory")


def test_empty_and_blank_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    only_error(str(empty), f"{empty}:0: file: no pairs: the file is empty")
    blank = write(tmp_path, "", "   ", name="blank.jsonl")
    only_error(blank, f"{blank}:0: file: no pairs: the file has only blank lines")


def test_binary_formats(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps(GOOD).encode("utf-16"))
    only_error(str(path), f"{path}:0: file: this looks like UTF-16 text")
    path.write_bytes(b"\x1f\x8b\x08\x00junk\nmore junk\n")
    only_error(str(path), f"{path}:0: file: this looks like a gzip archive")


def test_bad_source_types():
    only_error([], "<list>:0: source: no pairs: the list is empty")
    assert "wrap it in a list" in only_error(GOOD, "<source>:0: source: expected a path")
    only_error(42, "<source>:0: source: expected a path")


# ---------------------------------------------------------------- line-level problems

def test_invalid_utf8_keeps_going(tmp_path):
    f = write(tmp_path, GOOD, b'{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}', pair(3))
    pairs, errors, warnings = validate(f)
    assert [str(e) for e in errors] == [
        f"{f}:2: encoding: not valid UTF-8 (byte 0xe9 at column 16); re-save the file as UTF-8"]
    assert [p.line for p in pairs] == [1, 3]


def test_malformed_json(tmp_path):
    f = write(tmp_path, GOOD, '{"prompt": "x", "chosen": "a" "rejected": "b"}', "{'prompt': 1}")
    errors = errors_of(f)
    assert len(errors) == 2
    assert errors[0].startswith(f"{f}:2: json: invalid JSON: Expecting ',' delimiter at column")
    assert errors[1].startswith(f"{f}:3: json: invalid JSON: Expecting property name")


@pytest.mark.parametrize("line,kind", [("[1, 2]", "a list"), ('"hello"', "a string"),
                                       ("3", "a number (3)"), ("null", "null")])
def test_row_not_an_object(tmp_path, line, kind):
    f = write(tmp_path, line)
    only_error(f, f"{f}:1: row: is {kind}; expected a JSON object like {{\"prompt\"")


@pytest.mark.parametrize("field", ["prompt", "chosen", "rejected"])
@pytest.mark.parametrize("value,message", [
    (None, "is null; expected a non-empty string"),
    (3, "is a number (3); expected a string"),
    (True, "is a boolean (true); expected a string"),
    ("", "is empty"),
    (" \n\t", "is only whitespace"),
    ({"text": "x"}, "is an object; expected a string"),
])
def test_bad_text_fields(tmp_path, field, value, message):
    f = write(tmp_path, GOOD, {**pair(2), field: value})
    assert errors_of(f) == [f"{f}:2: {field}: {message}"]


@pytest.mark.parametrize("field", ["prompt", "chosen", "rejected"])
def test_missing_fields(tmp_path, field):
    row = pair(1)
    del row[field]
    f = write(tmp_path, row)
    only_error(f, f"{f}:1: {field}: missing")


def test_lone_surrogate(tmp_path):
    f = write(tmp_path, '{"prompt": "x\\ud800", "chosen": "a", "rejected": "b"}')
    only_error(f, f"{f}:1: prompt: is text with an unpaired surrogate")


def test_chosen_equals_rejected(tmp_path):
    f = write(tmp_path, {"prompt": "p", "chosen": "same", "rejected": "same"})
    only_error(f, f"{f}:1: rejected: is identical to chosen")
    f = write(tmp_path, {"prompt": "p", "chosen": "same", "rejected": "same "})
    pairs, errors, warnings = validate(f)
    assert errors == [] and str(warnings[0]).startswith(f"{f}:1: rejected: differs from chosen only")


def test_exact_duplicates(tmp_path):
    f = write(tmp_path, GOOD, pair(2), {**GOOD, "id": "x"})
    only_error(f, f"{f}:3: row: duplicate of line 1")
    pairs, _, _ = validate(f)
    assert [p.line for p in pairs] == [1, 2]


def test_swapped_pair_and_duplicate_id_warn(tmp_path):
    swapped = {"prompt": GOOD["prompt"], "chosen": GOOD["rejected"], "rejected": GOOD["chosen"]}
    f = write(tmp_path, {**GOOD, "id": 1}, {**swapped, "id": 1})
    pairs, errors, warnings = validate(f)
    assert errors == [] and len(pairs) == 2
    warnings = [str(w) for w in warnings]
    assert f"{f}:2: row: contradicts line 1: same prompt with chosen and rejected swapped" in warnings
    assert any(w.startswith(f"{f}:2: id: 1 is also used on line 1") for w in warnings)


@pytest.mark.parametrize("value", ["1.0", True, False, [1], {"a": 1}])
def test_bad_margin_types(tmp_path, value):
    f = write(tmp_path, pair(1, margin=value))
    only_error(f, f"{f}:1: margin: is ")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400])
def test_non_finite_margin(tmp_path, text):
    f = write(tmp_path, '{"prompt": "p", "chosen": "a", "rejected": "b", "margin": %s}' % text)
    only_error(f, f"{f}:1: margin: is a number")


def test_null_optional_fields_are_absent(tmp_path):
    f = write(tmp_path, pair(1, margin=None, id=None, category=None))
    pairs, errors, warnings = validate(f)
    assert errors == [] and pairs == [pair(1)]


@pytest.mark.parametrize("field,value,message", [
    ("id", 1.5, "is a number (1.5); expected a string or an integer"),
    ("id", True, "is a boolean (true); expected a string or an integer"),
    ("id", ["a"], "is a list; expected a string or an integer"),
    ("category", 3, "is a number (3); expected a string"),
    ("system", 3, "is a number (3); expected a string"),
])
def test_bad_optional_fields(tmp_path, field, value, message):
    f = write(tmp_path, pair(1, **{field: value}))
    assert errors_of(f) == [f"{f}:1: {field}: {message}"]


def test_unknown_fields_warn_once_per_field(tmp_path):
    f = write(tmp_path, pair(1), pair(2, score=1), pair(3, score=2, source="x"), pair(4, score=3))
    pairs, errors, warnings = validate(f)
    assert errors == [] and len(pairs) == 4
    warnings = [str(w) for w in warnings]
    assert len(warnings) == 2
    assert warnings[0].startswith(f"{f}:2: score: unknown field, ignored")
    assert warnings[0].endswith("first here, on 3 rows in all")
    assert warnings[1].startswith(f"{f}:3: source: unknown field, ignored")
    again, _, warnings = validate(validate([GOOD, pair(2)])[0])   # checked pairs carry no extra keys
    assert again == [GOOD, pair(2)] and warnings == []


def test_duplicate_json_key_warns(tmp_path):
    f = write(tmp_path, '{"prompt": "p", "chosen": "a", "rejected": "b", "chosen": "c"}')
    pairs, errors, warnings = validate(f)
    assert errors == [] and pairs[0]["chosen"] == "c"
    assert str(warnings[0]).startswith(f"{f}:1: chosen: this key appears more than once")


# ---------------------------------------------------------------- conversational problems

U = {"role": "user", "content": "2+2?"}
A4 = {"role": "assistant", "content": "4"}
A5 = {"role": "assistant", "content": "5"}


@pytest.mark.parametrize("row,prefix", [
    ({"prompt": "2+2?", "chosen": [A4], "rejected": [A5]}, "prompt: is a string but"),
    ({"prompt": [U], "chosen": {"role": "assistant", "content": "4"}, "rejected": [A5]},
     "chosen: is an object; expected a string or a list of messages"),
    ({"prompt": [], "chosen": [A4], "rejected": [A5]}, "prompt: is an empty list of messages"),
    ({"prompt": ["2+2?"], "chosen": [A4], "rejected": [A5]}, "prompt: message 1 is a string"),
    ({"prompt": [{"content": "2+2?"}], "chosen": [A4], "rejected": [A5]},
     "prompt: message 1 has no 'role'"),
    ({"prompt": [{"role": "user"}], "chosen": [A4], "rejected": [A5]},
     "prompt: message 1 has no 'content'"),
    ({"prompt": [{"role": "human", "content": "hi"}], "chosen": [A4], "rejected": [A5]},
     "prompt: message 1 has role 'human'; use one of system, user, assistant"),
    ({"prompt": [{"role": "user", "content": 5}], "chosen": [A4], "rejected": [A5]},
     "prompt: message 1 content is a number (5); expected a string"),
    ({"prompt": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
      "chosen": [A4], "rejected": [A5]}, "prompt: message 1 content is a list"),
    ({"prompt": [{"role": "system", "content": "s"}], "chosen": [A4], "rejected": [A5]},
     "prompt: has no user message"),
    ({"prompt": [{"role": "system", "content": "a"}, {"role": "system", "content": "b"}, U],
      "chosen": [A4], "rejected": [A5]}, "prompt: has more than one system message"),
    ({"prompt": [U], "chosen": [U], "rejected": [A5]},
     "chosen: its message has role 'user'; expected 'assistant'"),
    ({"prompt": [U], "chosen": [A4], "rejected": [A5, A4]},
     "rejected: has 2 messages; expected exactly one assistant message"),
    ({"prompt": [U], "chosen": [A4], "rejected": []}, "rejected: is an empty list of messages"),
    ({"prompt": [U], "chosen": [{"role": "assistant", "content": ""}], "rejected": [A5]},
     "chosen: message 1 content is empty"),
    ({"prompt": [U], "chosen": [A4]}, "rejected: missing"),
    ({"prompt": [U], "chosen": [A4], "rejected": [A4]}, "rejected: is identical to chosen"),
    ({"prompt": [{"role": "system", "content": "s"}, U], "system": "t", "chosen": [A4],
      "rejected": [A5]}, "system: given both"),
    # implicit prompt
    ({"chosen": [U, A4], "rejected": [{"role": "user", "content": "3+3?"}, A5]},
     "prompt: no 'prompt' key, and chosen and rejected differ before the final assistant reply "
     "(at message 1)"),
    ({"chosen": [U, A4], "rejected": [A5]}, "prompt: no 'prompt' key, and chosen and rejected "
     "differ before the final assistant reply (at message 1)"),
    ({"chosen": [A4], "rejected": [A5]}, "prompt: missing: chosen/rejected hold only"),
    ({"chosen": [A4, U], "rejected": [U, A5]}, "chosen: its last message has role 'user'"),
    ({"chosen": [U, A4], "rejected": "5"}, "rejected: is a string but"),
])
def test_bad_conversational(tmp_path, row, prefix):
    f = write(tmp_path, row)
    only_error(f, f"{f}:1: {prefix}")


def test_same_validator_for_list_and_file(tmp_path):
    rows = [GOOD, {**GOOD, "chosen": None}, "oops", {**GOOD}, pair(5, margin=True)]
    f = write(tmp_path, *[json.dumps(r) for r in rows])
    from_file = [(e.line, e.field, e.message) for e in validate(f)[1]]
    from_list = [(e.line, e.field, e.message) for e in validate(rows)[1]]
    assert from_file == from_list
    assert [(line, field) for line, field, _ in from_list] == [
        (2, "chosen"), (3, "row"), (4, "row"), (5, "margin")]


def test_unexpected_exception_becomes_a_problem():
    class Bad(float):   # a margin whose float() raises: not a data problem the validator knows
        def __float__(self):
            raise RuntimeError("boom")
    errors = errors_of([GOOD, {**GOOD, "margin": Bad(1.0)}])
    assert errors == ["<list>:2: row: could not check this row (RuntimeError: boom)"]


# ---------------------------------------------------------------- load_pairs / DataError

def test_load_pairs_raises_with_every_problem(tmp_path):
    f = write(tmp_path, GOOD, "{bad", {**GOOD, "prompt": ""}, GOOD)
    with pytest.raises(DataError) as info:
        load_pairs(f)
    assert str(info.value).splitlines() == [
        f"{f}:2: json: invalid JSON: Expecting property name enclosed in double quotes at "
        "column 2; each line must be one complete JSON object",
        f"{f}:3: prompt: is empty",
        f"{f}:4: row: duplicate of line 1 (same prompt, chosen and rejected); remove one copy",
    ]
    assert all(isinstance(p, Problem) for p in info.value.problems)
    assert isinstance(info.value, ValueError)


def test_load_pairs_prints_warnings(tmp_path, capsys):
    f = write(tmp_path, pair(1, extra=1))
    assert len(load_pairs(f)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"warning: {f}:1: extra: unknown field")


def test_file_untouched(tmp_path):
    f = write(tmp_path, GOOD, b"\xff\xfe bad bytes", "{bad json", {**GOOD, "extra": 1}, "")
    before = (open(f, "rb").read(), os.stat(f).st_mtime_ns)
    os.chmod(f, 0o444)  # read-only: any attempt to write would fail
    try:
        validate(f)
        with pytest.raises(DataError):
            load_pairs(f)
    finally:
        os.chmod(f, 0o644)
    assert (open(f, "rb").read(), os.stat(f).st_mtime_ns) == before


# ---------------------------------------------------------------- split_pairs

def test_split_deterministic_and_disjoint():
    pairs = [pair(i) for i in range(100)]
    train, test = split_pairs(pairs, 0.2, seed=3)
    assert (train, test) == split_pairs(pairs, 0.2, seed=3)
    assert len(test) == 20 and len(train) == 80
    assert sorted(p["prompt"] for p in train + test) == sorted(p["prompt"] for p in pairs)
    assert split_pairs(pairs, 0.2, seed=4)[1] != test
    assert [p["prompt"] for p in test] == sorted((p["prompt"] for p in test), key=lambda s: int(s[1:]))


def test_split_stratified_by_category():
    pairs = ([pair(i, category="a") for i in range(60)] + [pair(i, category="b") for i in range(60, 90)]
             + [pair(i, category="c") for i in range(90, 100)])
    train, test = split_pairs(pairs, 0.1, seed=0)
    counts = {c: sum(p["category"] == c for p in test) for c in "abc"}
    assert counts == {"a": 6, "b": 3, "c": 1}
    assert len(train) == 90


def test_split_edges():
    assert split_pairs([], 0.1) == ([], [])
    assert split_pairs([pair(1)], 0.5) == ([pair(1)], [])
    train, test = split_pairs([pair(1), pair(2)], 0.1)
    assert len(train) == 1 and len(test) == 1
    assert split_pairs([pair(1), pair(2)], 0) == ([pair(1), pair(2)], [])
    for bad in (-0.1, 1, 1.5):
        with pytest.raises(ValueError):
            split_pairs([pair(1)], bad)


# ---------------------------------------------------------------- too_long

def test_too_long_with_fake_counter():
    pairs = load_pairs([{"prompt": "p", "chosen": "a" * 5, "rejected": "b" * 3, "id": "x"},
                        {"prompt": "p", "chosen": "a", "rejected": "b" * 20},
                        {"prompt": "p", "chosen": "a" * 9, "rejected": "b" * 9}])
    seen = []

    def count(prompt, response):
        seen.append((prompt, response))
        return len(prompt) + len(response)

    assert too_long(pairs, count, max_length=10) == [
        {"line": 2, "id": None, "chosen_tokens": 2, "rejected_tokens": 21}]
    assert ("p", "a" * 5) in seen
    assert [r["line"] for r in too_long(pairs, count, max_length=5)] == [1, 2, 3]
    assert too_long(pairs, count, max_length=100) == []


def test_rows_to_score_only_with_responses_flag():
    rows = [GOOD, {"prompt": "p", "response": "r", "id": 7}, {"prompt": "p", "response": "r"},
            {"prompt": "p", "response": "  "}]
    pairs, errors, warnings = validate(rows, responses=True)
    assert [sorted(r) for r in pairs] == [sorted(GOOD), ["id", "prompt", "response"],
                                          ["prompt", "response"]]   # a repeated row is fine to score
    assert [r.line for r in pairs] == [1, 2, 3]
    assert [str(e) for e in errors] == ["<list>:4: response: is only whitespace"] and warnings == []
    _, errors, _ = validate(rows[1:2])
    assert [e.field for e in errors] == ["chosen"]   # training data must be pairs
