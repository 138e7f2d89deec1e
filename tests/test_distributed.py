"""`accelerate launch` with 2 CPU processes (gloo): one model folder, written by rank 0 only,
as accurate as a 1-process run with the same global batch.

Note: in accelerate 1.15 `accelerate launch --cpu --num_processes 2` starts ONE process (its
multi-CPU mode needs mpirun); `configs/cpu_2proc.yaml` starts two with torchrun and nbhelpers
trains on the CPU, so accelerate selects MULTI_CPU + gloo. The test checks that 2 ranks ran.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_pairs, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
ACCELERATE = Path(sys.executable).with_name("accelerate")
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=32,
             intermediate_size=128, vocab_size=151936, tie_word_embeddings=True, max_position_embeddings=512)
FAST = ["--set", "warmup_lm_steps=0", "--set", "max_length=128", "--set", "tiny_config=" + json.dumps(SMALL),
        "--max-steps", "6"]
GLOBAL_BATCH = 16


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.slow
@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate CLI not installed")
def test_accelerate_two_cpu_processes(tmp_path):
    from nbhelpers.evaluation import evaluate_pairs
    from nbhelpers.formatting import format_text
    from nbhelpers.bodies import body_path
    from nbhelpers.modeling import load_tokenizer
    from nbhelpers.profiles import get_profile
    from nbhelpers.scoring import RewardScorer

    train, test = make_pairs(64, seed=0), make_pairs(64, seed=1)
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "test.jsonl", test)
    # Build the (cached) body first so both runs start from the same RNG state for LoRA/head init.
    profile = get_profile("tiny", warmup_lm_steps=0, max_length=128, tiny_config=SMALL)
    tok = load_tokenizer(profile)
    body_path(profile, [format_text(tok, p["prompt"], p["chosen"]) for p in train])

    # 2 processes x batch 8 = 1 process x batch 16: the same global batch and number of optimizer steps
    two = subprocess.run([str(ACCELERATE), "launch", "--config_file", str(ROOT / "configs" / "cpu_2proc.yaml"),
                          "--main_process_port", "29517", "-m", "nbhelpers", "train",
                          "--data", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "two" / "rm"),
                          *FAST, "--set", f"batch_size={GLOBAL_BATCH // 2}"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "[rank1]" in two.stderr or "rank1" in two.stderr or two.stdout.count("setup: profile") == 2, \
        "expected two processes"
    assert two.stdout.count("saved reward model") == 1          # only rank 0 saves
    one = subprocess.run([sys.executable, "-m", "nbhelpers", "train", "--data", str(tmp_path / "train.jsonl"),
                          "--out", str(tmp_path / "one" / "rm"), *FAST, "--set", f"batch_size={GLOBAL_BATCH}"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]

    # exactly one complete folder: no temp/old copies, checkpoints removed
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["rm"]
    files = {p.name for p in (tmp_path / "two" / "rm").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "nbhelpers.json", "tokenizer_config.json"} <= files
    meta = json.loads((tmp_path / "two" / "rm" / "nbhelpers.json").read_text())
    assert "verifier" in meta                                    # fitted on rank 0 and saved

    acc = {}
    for name in ("one", "two"):
        scorer = RewardScorer.from_folder(tmp_path / name / "rm", device="cpu")
        acc[name] = evaluate_pairs(scorer, test)["accuracy"]
    assert acc["two"] > 0.9, acc
    assert abs(acc["one"] - acc["two"]) <= 0.02, acc
