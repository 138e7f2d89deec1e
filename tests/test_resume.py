"""No lost work: a training process killed with SIGKILL resumes from its last checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import make_pairs, write_jsonl

FAST = ["--set", "warmup_lm_steps=0", "--set", "max_length=128", "--set", "batch_size=8"]


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path):
    data = tmp_path / "train.jsonl"
    write_jsonl(data, make_pairs(32))
    out = tmp_path / "rm"
    cmd = [sys.executable, "-m", "nbhelpers", "train", "--data", str(data), "--out", str(out), "--epochs", "15", *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ckpt = tmp_path / "rm.checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not list(ckpt.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = sorted(int(p.parent.name.split("-")[1]) for p in ckpt.glob("checkpoint-*/trainer_state.json"))
    assert saved, "no checkpoint was written before the kill"
    assert not out.exists(), "a killed run must not leave a (half-written) model folder"

    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((out / "nbhelpers.json").read_text())
    steps = [h["step"] for h in meta["history"] if "loss" in h]
    assert steps and min(steps) > saved[-1] - 1, "the resumed run must continue after the checkpoint, not restart"
    assert max(steps) == 60
    assert not ckpt.exists()


def test_resume_skips_a_half_written_checkpoint(tmp_path):
    from nbhelpers.training import last_complete_checkpoint

    for step, complete in ((4, True), (8, True), (12, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(b"x")
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-8")
    assert last_complete_checkpoint(tmp_path / "none") is None
