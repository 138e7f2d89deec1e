"""Tests for nbhelpers.setup: .env, profile precedence, seeds, and text progress in real kernels."""

import ast
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from nbhelpers.device import pick_device
from nbhelpers.setup import Context, progress, setup, shutdown_kernel

ROOT = Path(__file__).resolve().parents[1]
FAKE_TOKEN = "hf_fakeTOKEN0123456789abcdefXYZ"


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """Empty tmp cwd, no REWARD_PROFILE/HF_TOKEN; os.environ restored afterwards."""
    saved = dict(os.environ)
    for name in ("REWARD_PROFILE", "HF_TOKEN"):
        os.environ.pop(name, None)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def test_env_file_loaded_found_upward_and_token_not_printed(clean_env, capsys):
    (clean_env / ".env").write_text(f"HF_TOKEN={FAKE_TOKEN}\nREWARD_PROFILE=minilm\n")
    sub = clean_env / "a" / "b"
    sub.mkdir(parents=True)
    os.chdir(sub)
    ctx = setup()
    out = capsys.readouterr()
    assert os.environ["HF_TOKEN"] == FAKE_TOKEN
    assert ctx.env_file == str(clean_env / ".env")
    assert FAKE_TOKEN not in out.out + out.err
    assert "hf_" not in out.out + out.err
    assert "HF_TOKEN: set" in out.out
    assert len(out.out.strip().splitlines()) == 1


def test_explicit_env_file(clean_env):
    f = clean_env / "other.env"
    f.write_text("REWARD_PROFILE=minilm\n")
    assert setup(env_file=str(f)).profile == "minilm"
    with pytest.raises(FileNotFoundError):
        setup(env_file=str(clean_env / "missing.env"))


def test_profile_precedence(clean_env, capsys):
    ctx = setup()
    assert (ctx.profile, ctx.env_file) == ("tiny", None)  # default
    assert "HF_TOKEN" not in capsys.readouterr().out
    (clean_env / ".env").write_text("REWARD_PROFILE=minilm\n")
    assert setup().profile == "minilm"  # .env > default
    os.environ["REWARD_PROFILE"] = "smollm2-135m"
    assert setup().profile == "smollm2-135m"  # environment > .env
    assert setup("qwen3-4b-thinking").profile == "qwen3-4b-thinking"  # argument > everything
    assert "needs a CUDA GPU" in capsys.readouterr().out or pick_device() == "cuda"
    with pytest.raises(ValueError, match="Known profiles: tiny"):
        setup("from-arg")


def test_context_fields(clean_env):
    ctx = setup(seed=7)
    assert isinstance(ctx, Context)
    assert os.environ["TQDM_NOTEBOOK"] == "false"
    assert ctx.device in ("cuda", "mps", "cpu")
    assert ctx.seed == 7 and ctx.in_notebook is False


def test_seeding_repeats(clean_env):
    setup(seed=3)
    a = (torch.rand(4), np.random.rand(2), random.random())
    setup(seed=3)
    b = (torch.rand(4), np.random.rand(2), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_progress_is_text_tqdm():
    from tqdm.std import tqdm

    bar = progress(range(3), disable=True)
    assert type(bar) is tqdm
    assert list(bar) == [0, 1, 2]


def test_shutdown_kernel_outside_kernel_keeps_process(capsys):
    shutdown_kernel()
    assert "not in a Jupyter kernel" in capsys.readouterr().out
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "programs" / "shutdown_outside_kernel.py")],
                       capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert r.returncode == 0 and "still alive" in r.stdout


# ---- real Jupyter kernels -------------------------------------------------------------------

SETUP = "from nbhelpers.setup import setup\nctx = setup()"
IMPORTS = (
    "import torch, datasets\n"
    "from transformers import Qwen3Config, Qwen3ForSequenceClassification, Trainer, TrainingArguments"
)
MAP = """ds = datasets.Dataset.from_dict({"x": list(range(64))})
ds = ds.map(lambda r: {"input_ids": [(r["x"] * 7 + i) % 1000 for i in range(8)], "labels": float(r["x"] % 2)})"""
TRAIN = """cfg = Qwen3Config(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_labels=1, pad_token_id=0)
args = TrainingArguments(output_dir=OUT, per_device_train_batch_size=4, max_steps=20, logging_steps=10,
                         report_to=[], save_strategy="no", use_cpu=True)
Trainer(model=Qwen3ForSequenceClassification(cfg), args=args, train_dataset=ds).train()"""
OWN_LOOP = "from tqdm.auto import tqdm\nfor _ in tqdm(range(5)):\n    pass"


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def _run_nb(cells, path):
    """Execute a notebook with `jupyter nbconvert --execute`; return (returncode, executed nb)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    r = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--output", path.name, str(path)],
        capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300,
    )
    return r.returncode, (json.loads(path.read_text()) if r.returncode == 0 else r.stderr)


def _progress_kinds(nb):
    """Count text tqdm stream outputs, widget outputs and HTML <progress> outputs."""
    text = widget = html = 0
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                t = "".join(o["text"])
                text += ("it/s" in t or "s/it" in t or "examples/s" in t or "100%|" in t)
            data = o.get("data", {})
            widget += "application/vnd.jupyter.widget-view+json" in data
            html += "<progress" in "".join(data.get("text/html", ""))
    return text, widget, html


SHUTDOWN = "from nbhelpers.setup import shutdown_kernel\nshutdown_kernel()"


@pytest.mark.slow
@pytest.mark.parametrize("setup_first", [True, False], ids=["setup-first", "setup-after-imports"])
def test_notebook_progress_is_plain_text(tmp_path, setup_first):
    """Also: a notebook whose last cell shuts the kernel down still completes under nbconvert."""
    out = f"OUT = {str(tmp_path / 'out')!r}"
    cells = [SETUP, IMPORTS] if setup_first else [IMPORTS, SETUP]
    cells += [out, MAP, TRAIN, OWN_LOOP] + ([SHUTDOWN] if setup_first else [])
    rc, nb = _run_nb(cells, tmp_path / "progress.ipynb")
    assert rc == 0, nb
    text, widget, html = _progress_kinds(nb)
    assert widget == 0 and html == 0
    assert text >= 2  # Trainer, own loop
    map_out = "".join("".join(o.get("text", "")) for o in nb["cells"][3]["outputs"])
    assert "examples/s" not in map_out   # datasets' map: no bar (quiet_progress)
    train_out = "".join("".join(o.get("text", "")) for o in nb["cells"][4]["outputs"])
    assert "20/20" in train_out
    if setup_first:
        last = nb["cells"][-1]
        assert last["execution_count"] == len(cells)
        assert "shutting the kernel down" in "".join(last["outputs"][0]["text"])


@pytest.mark.slow
def test_notebook_without_setup_shows_widgets(tmp_path):
    """Control: the check above can fail. Without setup() Jupyter gets widgets and HTML bars."""
    out = f"OUT = {str(tmp_path / 'out')!r}"
    rc, nb = _run_nb([IMPORTS, out, MAP, TRAIN], tmp_path / "control.ipynb")
    assert rc == 0, nb
    text, widget, html = _progress_kinds(nb)
    assert widget >= 1 and html >= 1


@pytest.mark.slow
def test_nbval_skips_shutdown_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(1 + 1)"),
        nbformat.v4.new_code_cell("# NBVAL_SKIP\n" + SHUTDOWN),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "skip.ipynb")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-v", "skip.ipynb"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Cell 1 SKIPPED" in r.stdout and "1 passed, 1 skipped" in r.stdout


def test_loading_bars_are_quiet_download_and_training_bars_stay(clean_env):
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    datasets.enable_progress_bars()
    setup()
    assert not hf_logging.is_progress_bar_enabled()      # "Loading weights"
    assert datasets.utils.are_progress_bars_disabled()   # map / filter
    assert not are_progress_bars_disabled()              # downloads from the Hub


def _train_with_logs(callback, capsys):
    """Drive a progress callback through 4 steps: metrics at step 2, then evaluation and summary at step 4.
    Returns (stdout, stderr)."""
    from types import SimpleNamespace

    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=4)
    callback.on_train_begin(None, state, None)
    for step in range(1, 5):
        state.global_step = step
        callback.on_step_end(None, state, None)
        for logs in ([{"loss": 0.5}] if step == 2 else [{"eval_loss": 0.4}, {"train_loss": 0.45}] if step == 4 else []):
            callback.on_log(None, state, None, logs=logs)
    callback.on_train_end(None, state, None)
    out = capsys.readouterr()
    return out.out, out.err


def test_one_bar_ends_the_bar_line_before_each_metrics_line(tmp_path, capsys):
    """A notebook keeps every write: no clearing line of spaces, no bar drawn again under the metrics."""
    import re

    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import ProgressCallback

    from nbhelpers.setup import one_bar

    trainer = Trainer(model=torch.nn.Linear(2, 1), args=TrainingArguments(output_dir=str(tmp_path), report_to="none"))
    one_bar(trainer)
    bar = next(c for c in trainer.callback_handler.callbacks if isinstance(c, ProgressCallback))
    out, err = _train_with_logs(bar, capsys)
    shown = [line.split("\r")[-1] for line in err.split("\n") if line]   # what each line of the bar shows
    assert [re.search(r"\d/4", line).group() for line in shown] == ["2/4", "4/4"]
    assert not re.search(r"\r +\r", err)
    assert [ast.literal_eval(line) for line in out.splitlines()] == [{"loss": "0.5"}, {"eval_loss": "0.4"}, {"train_loss": "0.45"}]
    out, err = _train_with_logs(ProgressCallback(), capsys)   # what it replaces clears the bar for every line
    assert len(re.findall(r"\r +\r", err)) == 3


def test_one_bar_keeps_the_training_bar_and_drops_the_nested_evaluation_bar(tmp_path, capsys):
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import ProgressCallback

    from nbhelpers.setup import one_bar

    trainer = Trainer(model=torch.nn.Linear(2, 1), args=TrainingArguments(output_dir=str(tmp_path), report_to="none"))
    one_bar(trainer)
    bars = [c for c in trainer.callback_handler.callbacks if isinstance(c, ProgressCallback)]
    assert len(bars) == 1 and type(bars[0]) is not ProgressCallback
    state = type("State", (), {"is_world_process_zero": True})()
    bars[0].on_prediction_step(trainer.args, state, None, eval_dataloader=[1, 2, 3])
    assert bars[0].prediction_bar is None and "\x1b[A" not in capsys.readouterr().err
    original = ProgressCallback()
    original.on_prediction_step(trainer.args, state, None, eval_dataloader=[1, 2, 3])
    assert original.prediction_bar is not None   # what it replaces draws a second bar
    original.prediction_bar.close()


@pytest.mark.slow
def test_cells_a_profile_cannot_run_say_so_and_skip(tmp_path):
    """`%%needs`: on a profile that lacks the need (here no GPU), that cell and the later ones print why instead
    of failing; choosing a profile that can runs everything again, and errors inside `%%needs` cells still fail."""
    cells = ['from nbhelpers import setup\nPROFILE = "qwen3-4b-thinking"\nctx = setup(PROFILE)',
             'print("data ran")',
             '%%needs model\nprint("model ran")',
             'print("later ran")',
             'PROFILE = "tiny"\nctx = setup(PROFILE)',
             '%%needs model policy\nx = 6 * 7\nx',
             'print("later ran", x)']
    rc, nb = _run_nb(cells, tmp_path / "needs.ipynb")
    assert rc == 0, nb
    out = ["".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) for o in c["outputs"])
           for c in nb["cells"]]
    assert "needs a CUDA GPU" in out[0] and out[1] == "data ran\n"
    assert out[2].startswith("skipped: profile 'qwen3-4b-thinking' needs a CUDA GPU") and "model ran" not in out[2]
    assert out[3] == out[2]
    assert out[5] == "42" and out[6] == "later ran 42\n"
    rc, err = _run_nb(["from nbhelpers import setup\nctx = setup()", "%%needs model\n1 / 0"], tmp_path / "fails.ipynb")
    assert rc != 0 and "ZeroDivisionError" in err


def test_missing_names_what_a_profile_lacks(tmp_path, monkeypatch):
    setup_module = sys.modules["nbhelpers.setup"]
    assert setup_module.missing("model", "tiny") is None and setup_module.missing("policy", "tiny") is None
    assert "encoder" in setup_module.missing("policy", "minilm")
    assert "CUDA GPU" in setup_module.missing("policy", "qwen3-4b-thinking")
    monkeypatch.setattr(setup_module, "MODEL_DIR", tmp_path)
    assert "run notebook 02 first" in setup_module.missing("trained", "tiny")
    (tmp_path / "nbhelpers.json").write_text(json.dumps({"profile": {"name": "minilm"}}))
    assert "holds a 'minilm' reward model" in setup_module.missing("trained", "tiny")
    assert setup_module.missing("trained", "minilm") is None
    with pytest.raises(ValueError, match="expected model, policy or trained"):
        setup_module.missing("gpu", "tiny")
