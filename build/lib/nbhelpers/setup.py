"""First cell of every notebook: environment, seeds, device, plain-text progress bars, and the profile.

The profile is chosen in one place per notebook (`setup(PROFILE)`). The first cell that needs what a profile may
lack starts with `%%needs model`, `%%needs policy` or `%%needs trained`: on a profile that lacks it, that cell and
the ones after it say why and skip instead of failing.

Why text progress takes more than ``TQDM_NOTEBOOK=false``: neither tqdm nor transformers reads
that variable. Inside a Jupyter kernel ``tqdm.auto`` becomes an ipywidget (when ipywidgets is
installed) and ``transformers.Trainer`` picks ``NotebookProgressCallback``, an HTML ``<progress>``
bar. ``text_progress()`` undoes both, whether or not those libraries are already imported.
``quiet_progress()`` then drops the bars that finish in a blink (loading weights, datasets' map and
filter): a notebook keeps each as lines of noise.
"""

from __future__ import annotations

import ast
import gc
import json
import logging
import os
import random
import sys
import warnings
from dataclasses import dataclass

from .device import pick_device
from .paths import META_FILE, MODEL_DIR
from .profiles import get_profile, unavailable

DEFAULT_PROFILE = "tiny"

# tqdm.notebook.tqdm_notebook overrides these to draw a widget; without them it is tqdm.std.tqdm.
_WIDGET_METHODS = ("__init__", "status_printer", "display", "colour",
                   "__iter__", "update", "close", "clear", "reset")


@dataclass
class Context:
    profile: str
    device: str
    seed: int
    env_file: str | None
    in_notebook: bool


def in_notebook() -> bool:
    """True inside a Jupyter (ipykernel) kernel."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return shell is not None and hasattr(shell, "kernel")


def text_progress() -> None:
    """Make tqdm, datasets and transformers.Trainer draw plain-text bars, also in notebooks.

    Idempotent; works whether or not tqdm/datasets/transformers/trl are already imported.
    """
    os.environ["TQDM_NOTEBOOK"] = "false"
    from tqdm.std import TqdmExperimentalWarning

    warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    # 1. tqdm.auto.tqdm, and classes already derived from it (datasets, huggingface_hub), all
    #    inherit from tqdm_notebook: strip its widget methods so they fall back to tqdm.std.
    try:
        import tqdm.notebook as tn
    except ImportError:  # no IPython: tqdm.auto is tqdm.std anyway
        tn = None
    if tn is not None:
        for name in _WIDGET_METHODS:
            if name in vars(tn.tqdm_notebook):
                delattr(tn.tqdm_notebook, name)
    # 2. transformers.Trainer: the HTML callback is chosen when transformers.trainer is imported.
    try:
        import transformers.utils as tu
    except ImportError:
        return
    tu.is_in_notebook = lambda: False  # read only by transformers.trainer, at import time
    trainer = sys.modules.get("transformers.trainer")
    if trainer is not None:
        from transformers.trainer_callback import ProgressCallback

        trainer.DEFAULT_PROGRESS_CALLBACK = ProgressCallback


def quiet_progress() -> None:
    """No progress bars for loading a model (transformers' `Loading weights`) or for datasets' map and
    filter. The Trainer's training bar and the Hub's download bars (a long download's sign of life) stay.

    Idempotent; datasets, if not imported yet, reads HF_DATASETS_DISABLE_PROGRESS_BARS when it is.
    """
    import huggingface_hub.utils as hub
    from transformers.utils import logging as hf_logging

    hub_bars_off = hub.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()   # also turns the Hub's bars off ...
    if not hub_bars_off:
        hub.enable_progress_bars()      # ... so turn them back on
    datasets = sys.modules.get("datasets")
    if datasets is None:
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    else:
        datasets.disable_progress_bars()


def one_bar(trainer) -> None:
    """Replace a Trainer's text ProgressCallback by one that a notebook or a log records cleanly:
    - no nested evaluation bar: a second bar under the first is drawn with cursor-up codes (`\\x1b[A`)
      that text output cannot follow, leaving dozens of half-lines;
    - a metrics line ends the bar's line and follows it, where `tqdm.write` clears the bar (a line of
      spaces) and draws it again after every line; the bar's last line is drawn once, at the last step.
    The training bar and the logged metrics stay."""
    from transformers.trainer_callback import ProgressCallback

    class TrainingBarOnly(ProgressCallback):
        line_ended_at = None   # the step at which a metrics line last ended the bar's line

        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
            pass

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero:
                return
            bar = self.training_bar
            if bar is not None and self.line_ended_at != state.global_step:
                if state.global_step >= state.max_steps:
                    bar.close()   # its final line, once, above the last metrics (evaluation, summary)
                    self.training_bar = None
                else:
                    if bar.last_print_n < bar.n:   # tqdm draws at most every 0.1 s: show this step
                        bar.refresh()
                    bar.fp.write("\n")
                bar.fp.flush()   # before the metrics line, on the other stream
                self.line_ended_at = state.global_step
            print({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in (logs or {}).items() if k != "total_flos"},
                  flush=True)

        def on_train_end(self, args, state, control, **kwargs):
            if self.training_bar is not None:   # stopped before its last step
                super().on_train_end(args, state, control, **kwargs)

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(TrainingBarOnly)


def progress(iterable=None, **kw):
    """A plain-text tqdm bar for our own loops."""
    from tqdm.std import tqdm

    return tqdm(iterable, **kw)


def _load_env(env_file: str | None) -> str | None:
    """Load a .env (given, or found from the cwd upward) without overriding the environment."""
    from dotenv import find_dotenv, load_dotenv

    if env_file is None:
        env_file = find_dotenv(usecwd=True) or None
    elif not os.path.isfile(env_file):
        raise FileNotFoundError(f"env_file not found: {env_file}")
    if env_file:
        env_file = os.path.abspath(env_file)
        load_dotenv(env_file, override=False)
    return env_file


def _quiet() -> None:
    """Silence warnings that only distract a reader of the notebook."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # fork warning from tokenizers
    # Trainer on a CPU-only machine: "'pin_memory' argument is set as true but no accelerator..."
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true")
    # TRL's configs set the deprecated TrainingArguments.gradient_checkpointing themselves, and loading a PEFT
    # adapter reads the deprecated PreTrainedModel.is_gradient_checkpointing: nothing for a reader to change
    warnings.filterwarnings("ignore", message="`gradient_checkpointing` is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    # bitsandbytes on CPU, at import: "Failed to load CPU gemm_4bit_forward ..." (it still works)
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds cuda/mps


def setup(profile: str | None = None, seed: int = 0, env_file: str | None = None) -> Context:
    """Load .env, force text progress bars (none for loading), seed, pick the device, quiet warnings.

    Profile: argument, else REWARD_PROFILE (environment, then .env), else "tiny". Prints one line (and why the
    profile cannot run here, if so); never prints the value of any variable. In a notebook, registers `%%needs`.
    """
    _quiet()
    env_file = _load_env(env_file)
    text_progress()
    quiet_progress()
    seed_everything(seed)
    ctx = Context(
        profile=profile or os.environ.get("REWARD_PROFILE") or DEFAULT_PROFILE,
        device=pick_device(),
        seed=seed,
        env_file=env_file,
        in_notebook=in_notebook(),
    )
    line = f"setup: profile={ctx.profile} device={ctx.device} seed={seed} .env={env_file or 'none'}"
    if os.environ.get("HF_TOKEN"):
        line += " HF_TOKEN: set"
    print(line)
    reason = unavailable(get_profile(ctx.profile))
    if reason:
        print(f"note: {reason}; the cells that need its model will say so and skip.")
    if ctx.in_notebook:
        _register_needs(ctx.profile)
    return ctx


def missing(need: str, profile_name: str) -> str | None:
    """Why a cell that needs `need` cannot run on the profile: "model" (it loads here), "policy" (its body
    generates text, for GRPO) or "trained" (notebook 02 saved a reward model of this profile). None: it can."""
    profile = get_profile(profile_name)
    reason = unavailable(profile)
    if reason or need == "model":
        return reason
    if need == "policy":
        return None if profile.causal_lm else f"profile {profile.name!r} is an encoder: it cannot generate completions"
    if need == "trained":
        meta = MODEL_DIR / META_FILE
        if not meta.exists():
            return f"{MODEL_DIR} holds no reward model yet: run notebook 02 first"
        saved = json.loads(meta.read_text())["profile"]["name"]
        return None if saved == profile.name else (f"{MODEL_DIR} holds a {saved!r} reward model, not {profile.name!r}: "
                                                   f"run notebook 02 with PROFILE = {profile.name!r} first")
    raise ValueError(f"%%needs {need}: expected model, policy or trained")


def needs(line: str, cell: str, profile: str):
    """The `%%needs ...` cell magic. If `profile` has every need on the line, run the cell as usual (its last
    expression is shown). If not, print why, run nothing, and from then on every code cell of the notebook does the
    same (they build on this one), except the cells that choose the profile or shut the kernel down. `setup()`
    starts afresh."""
    shell = sys.modules["IPython"].get_ipython()
    reasons = [r for r in (missing(need, profile) for need in line.split()) if r]
    if reasons:
        message = f"skipped: {'; '.join(dict.fromkeys(reasons))}. Set PROFILE = \"tiny\" in the first cell to run it."
        print(message)
        shell.input_transformers_post.append(_SkipCell(message))
        return None
    tree = ast.parse(shell.transform_cell(cell))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), shell.user_ns)
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), shell.user_ns) if last else None


class _SkipCell:
    """An IPython input transformer: a code cell becomes a print of why it is skipped, except the cells that
    set PROFILE, call setup() or shut the kernel down (so a learner can switch the profile and run again)."""
    KEEP = ("PROFILE =", "setup(", "shutdown_kernel")

    def __init__(self, message: str):
        self.message = message

    def __call__(self, lines: list[str]) -> list[str]:
        keep = any(mark in line for line in lines for mark in self.KEEP)
        return lines if keep else [f"print({self.message!r})\n"]


def _register_needs(profile: str) -> None:
    shell = sys.modules["IPython"].get_ipython()
    shell.input_transformers_post[:] = [t for t in shell.input_transformers_post if not isinstance(t, _SkipCell)]
    shell.register_magic_function(lambda line, cell: needs(line, cell, profile), "cell", "needs")


def shutdown_kernel() -> None:
    """Free accelerator memory, then shut down the Jupyter kernel (outside a kernel: only free)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    if not in_notebook():
        print("shutdown_kernel: not in a Jupyter kernel; freed memory, process keeps running")
        return
    print("shutdown_kernel: shutting the kernel down")
    sys.stdout.flush()
    sys.stderr.flush()
    # Same path as a frontend's shutdown request: the reply to this cell is still sent, then
    # the kernel's event loop stops and the process exits.
    sys.modules["IPython"].get_ipython().kernel.do_shutdown(False)
