"""Reward-model training with TRL's RewardTrainer (Bradley-Terry loss on chosen/rejected pairs).

Pairs are tokenized here with `formatting.encode`, the same function every scorer uses, and
handed to RewardTrainer already tokenized (`chosen_ids`/`rejected_ids`), so training and
scoring see identical tokens. Pairs longer than `max_length` are reported before training
(RewardTrainer would drop them silently); `truncate=True` keeps them, cut to `max_length`.
"""
from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import DataError, Problem, too_long
from .formatting import encode, render
from .device import compute_dtype, optimizer_for, trainer_precision
from .modeling import count_parameters, is_quantized, load_for_training, save_reward_model
from .profiles import Profile, get_profile
from .scoring import VERIFIER_FIT_PAIRS, RewardScorer
from .setup import one_bar
from .verifier import supports_verifier


def tokenize_pairs(pairs: list[dict], tokenizer, max_length: int | None = None, truncate: bool = False,
                   source: str = "<pairs>"):
    """A `datasets.Dataset` with chosen_ids / rejected_ids (and margin if every pair has one).

    Raises DataError naming every pair longer than max_length unless truncate=True; then each is cut by
    the kit's rule (`formatting.render`: oldest turns first, then the start of the text), and what was
    cut is printed.
    """
    from datasets import Dataset

    # each side rendered once: a side is over max_length exactly when render had to drop turns or cut tokens
    seen = [[render(tokenizer, pair["prompt"], pair[side], max_length) for side in ("chosen", "rejected")]
            for pair in pairs]
    over = lambda sides: any(s.dropped_turns or s.cut_tokens for s in sides)
    if max_length and not truncate:
        long = too_long([p for p, sides in zip(pairs, seen) if over(sides)],
                        lambda p, r: len(encode(tokenizer, p, r)), max_length)
        if long:
            raise DataError([Problem(source, row["line"], "length",
                                     f"pair {row['id']!r} has {row['chosen_tokens']} chosen / "
                                     f"{row['rejected_tokens']} rejected tokens > max_length {max_length}; "
                                     "shorten it, raise max_length, or pass truncate=True (--truncate)")
                             for row in long])
    rows = {"chosen_ids": [s[0].ids for s in seen], "rejected_ids": [s[1].ids for s in seen]}
    dropped = sum(any(s.dropped_turns for s in sides) for sides in seen)
    cut = sum(any(s.cut_tokens for s in sides) for sides in seen)
    if dropped or cut:
        print(f"note: {source}: cut to max_length {max_length} tokens, keeping the response and the latest turns: "
              f"earliest turns left out in {dropped} pairs; the start of the text cut in {cut} pairs "
              "(their last user turn and response alone are longer)", file=sys.stderr)
    if pairs and all("margin" in p for p in pairs):
        rows["margin"] = [float(p["margin"]) for p in pairs]
    # a batch is padded to its longest chosen or rejected text: the length RewardConfig groups by
    rows["length"] = [max(len(c), len(r)) for c, r in zip(rows["chosen_ids"], rows["rejected_ids"])]
    return Dataset.from_dict(rows)


@dataclass
class TrainResult:
    model: object
    tokenizer: object
    profile: Profile
    history: list[dict] = field(default_factory=list)   # every log line: step, loss, accuracy, margin, eval_*
    seconds: float = 0.0
    out: Path | None = None
    meta: dict = field(default_factory=dict)     # what is saved in nbhelpers.json (verifier weights, ...)


def _history_callback(history: list):
    from transformers import TrainerCallback

    class History(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            history.append({"step": state.global_step, **(logs or {})})
    return History()


LOGS_PER_EPOCH = 10      # history points for the plots
EVALS_PER_EPOCH = 2
CHECKPOINTS_PER_EPOCH = 4   # for --resume after a crash or kill -9
WARMUP_FRACTION = 0.05      # of the steps spent ramping the learning rate up (then cosine decay)


def reward_config(profile: Profile, device: str, n_train: int, output_dir, seed: int = 0,
                  max_steps: int = -1, evaluate: bool = False):
    """TRL's RewardConfig for a profile on a device (pure: builds the config, touches nothing).

    Logging, evaluation and checkpoint intervals are fractions of an epoch of `n_train` pairs. Evaluations and
    checkpoints are spread evenly over the run, at least one: the Trainer evaluates and saves at the last step
    anyway, so an interval that ignored the run's length would add one there a step after the previous.
    """
    from trl import RewardConfig

    # optimizer steps, counted as the Trainer counts them (the last, smaller batch is a step too)
    steps_per_epoch = math.ceil(math.ceil(n_train / profile.batch_size) / profile.grad_accum) or 1
    steps = max_steps if max_steps > 0 else math.ceil(profile.epochs * steps_per_epoch)

    def spread(per_epoch: int) -> int:
        """Steps between events that come `per_epoch` times an epoch, at least once a run."""
        return math.ceil(steps / max(1, round(steps / steps_per_epoch * per_epoch)))

    log_every = max(1, steps_per_epoch // LOGS_PER_EPOCH)
    return RewardConfig(
        output_dir=str(output_dir), report_to="none", seed=seed, data_seed=seed,
        learning_rate=profile.learning_rate, num_train_epochs=profile.epochs, max_steps=max_steps,
        per_device_train_batch_size=profile.batch_size, per_device_eval_batch_size=profile.batch_size * 2,
        gradient_accumulation_steps=profile.grad_accum, gradient_checkpointing=profile.gradient_checkpointing,
        optim=optimizer_for(profile.optim, device), lr_scheduler_type="cosine", warmup_steps=WARMUP_FRACTION,
        max_length=profile.max_length, center_rewards_coefficient=profile.center_rewards_coefficient,
        logging_steps=log_every, eval_strategy="steps" if evaluate else "no",
        eval_steps=spread(EVALS_PER_EPOCH), save_strategy="steps", save_steps=spread(CHECKPOINTS_PER_EPOCH),
        save_total_limit=1,
        dataloader_num_workers=0, disable_tqdm=False, **trainer_precision(device),
        # batches of similar length (less padding; benchmarks/bench_training.py); keep the "length"
        # column the sampler reads (the collator only uses chosen_ids / rejected_ids / margin)
        train_sampling_strategy="group_by_length", length_column_name="length", remove_unused_columns=False,
    )


def train_reward_model(train_pairs: list[dict], eval_pairs: list[dict] | None = None, profile: Profile | str | None = None,
                       out=None, *, model=None, tokenizer=None, max_steps: int = -1, resume: bool = False,
                       truncate: bool = False, overwrite: bool = False, seed: int = 0, checkpoint_dir=None,
                       callbacks=()) -> TrainResult:
    """Train a reward model on validated pairs; save it to `out` (atomically) if given.

    `model`/`tokenizer`: from `load_for_training` (to inspect them first); loaded here if omitted,
    on the profile's settings (epochs, 4-bit, ...: override them with `get_profile(name, **fields)`).
    """
    from trl import RewardTrainer

    profile = get_profile(profile)
    if out is not None and Path(out).exists() and not overwrite and not resume:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it.")
    if model is None:
        model, tokenizer = load_for_training(profile, train_pairs, seed=seed)
    device = model.device.type
    quantized = is_quantized(model)
    train_ds = tokenize_pairs(train_pairs, tokenizer, profile.max_length, truncate)
    eval_ds = tokenize_pairs(eval_pairs, tokenizer, profile.max_length, truncate, "<eval>") if eval_pairs else None
    ckpt = Path(checkpoint_dir or (f"{out}.checkpoints" if out else "outputs/.checkpoints"))
    args = reward_config(profile, device, len(train_ds), ckpt, seed, max_steps, evaluate=eval_ds is not None)
    history: list[dict] = []
    trainer = RewardTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                            processing_class=tokenizer, callbacks=[_history_callback(history), *callbacks])
    one_bar(trainer)
    if quantized and compute_dtype(device, profile.dtype) == torch.float32:
        # TRL casts QLoRA adapter weights to bf16; with float32 compute (CPU) that mismatches the
        # activations and bf16 is ~35x slower here, so keep trainable weights in float32.
        for param in trainer.model.parameters():
            if param.requires_grad:
                param.data = param.data.float()
    start = time.time()
    trainer.train(resume_from_checkpoint=last_complete_checkpoint(ckpt) if resume else None)
    seconds = time.time() - start
    meta = {"profile": profile.to_dict(), "quantize_4bit": quantized, "train_seconds": round(seconds, 1), "n_train": len(train_pairs),
            "parameters": count_parameters(trainer.model), "history": history}
    # Multi-process (accelerate launch): only rank 0 fits the verifier, saves and cleans up.
    main = trainer.is_world_process_zero()
    if main and profile.verifier and supports_verifier(trainer.model, tokenizer):
        print(f"fitting the verifier weights on {min(len(train_pairs), VERIFIER_FIT_PAIRS)} training pairs", flush=True)
        meta["verifier"] = RewardScorer(trainer.model.eval(), tokenizer, meta).fit_verifier(train_pairs, seed=seed)
    result = TrainResult(trainer.model.eval(), tokenizer, profile, history, seconds, meta=meta)
    if out is not None and main:
        result.out = save_reward_model(trainer.model, tokenizer, profile, out, meta, overwrite=overwrite or resume)
        shutil.rmtree(ckpt, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()   # every rank returns once the folder is complete
    return result


def last_complete_checkpoint(folder) -> str | None:
    """The newest checkpoint whose trainer_state.json exists (Trainer writes it last), or None.

    A process killed while saving leaves a newer, half-written checkpoint folder behind;
    resuming from it would fail, so it is skipped.
    """
    done = [p for p in Path(folder).glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None
