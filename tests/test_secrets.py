"""HF_TOKEN from .env never reaches stdout/stderr, a saved model folder or an executed notebook."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_pairs, write_jsonl

FAKE = "hf_FAKEtoken0123456789abcdefSECRET"
ROOT = Path(__file__).resolve().parents[1]


def _grep_tree(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and FAKE.encode() in p.read_bytes()]


@pytest.mark.slow
def test_token_from_dotenv_never_leaks_through_the_cli(tmp_path):
    (tmp_path / ".env").write_text(f"HF_TOKEN={FAKE}\nREWARD_PROFILE=tiny\n")
    data = tmp_path / "train.jsonl"
    write_jsonl(data, make_pairs(16))
    singles = tmp_path / "singles.jsonl"
    singles.write_text(json.dumps({"prompt": "What is 2 + 2?", "response": "4", "id": "a"}) + "\n"
                       + json.dumps({"prompt": "What is 3 + 3?", "response": "<think>\n3 + 3 = 6\n</think>\n\n6"}) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    run = lambda *a: subprocess.run([sys.executable, "-m", "nbhelpers", *a], cwd=tmp_path, env=env,
                                    capture_output=True, text=True)
    logs = [run("train", "--data", str(data), "--out", "rm", "--max-steps", "2",
                "--set", "warmup_lm_steps=0", "--set", "max_length=128"),
            run("evaluate", "--model", "rm", "--data", str(data), "--json"),
            run("score", "--model", "rm", "--data", str(data), "--out", "scores.jsonl"),
            run("score", "--model", "rm", "--data", str(singles)),
            run("validate", str(data))]
    bad_singles = tmp_path / "bad_singles.jsonl"
    bad_singles.write_text(json.dumps({"prompt": "p", "response": ""}) + "\n" + json.dumps({"response": "r"}) + "\n")
    before = data.read_bytes()
    refused = [run("score", "--model", "rm", "--data", str(data), "--out", str(data)),
               run("score", "--model", "rm", "--data", str(bad_singles), "--out", "none.jsonl")]
    assert data.read_bytes() == before and not (tmp_path / "none.jsonl").exists()
    assert refused[0].returncode == 1 and "is the input file" in refused[0].stderr
    assert refused[1].returncode == 1 and refused[1].stdout.splitlines() == [
        f"{bad_singles}:1: response: is empty",
        f"{bad_singles}:2: prompt: missing; a row to score needs prompt and response (or prompt, chosen, rejected)"]
    for log in logs:
        assert log.returncode == 0, log.stderr[-2000:]
        assert FAKE not in log.stdout + log.stderr
    assert "HF_TOKEN: set" in logs[0].stdout        # it was loaded, just never shown
    report = json.loads(logs[1].stdout)              # evaluate --json: exactly one JSON object on stdout
    assert set(report) >= {"n", "accuracy", "mean_margin", "by_category"} and report["n"] == 16
    scores = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == 16 and set(scores[0]) == {"id", "chosen_reward", "rejected_reward"}
    single = [json.loads(line) for line in logs[3].stdout.splitlines()]   # prompt/response rows, in order
    assert [set(r) for r in single] == [{"id", "reward"}, {"reward"}] and single[0]["id"] == "a"
    leaked = [p for p in _grep_tree(tmp_path) if not p.endswith(".env")]
    assert leaked == []


@pytest.mark.slow
def test_token_never_reaches_an_executed_notebook(tmp_path):
    env = {**os.environ, "HF_TOKEN": FAKE, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                          "--output-dir", str(tmp_path), str(ROOT / "notebooks" / "01_dataset.ipynb")],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert FAKE not in out.stdout + out.stderr
    assert _grep_tree(tmp_path) == []
    assert "HF_TOKEN: set" in (tmp_path / "01_dataset.ipynb").read_text()
