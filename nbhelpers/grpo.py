"""Reward functions for TRL's GRPOTrainer and RLOOTrainer.

TRL calls every reward function as `fn(prompts=..., completions=..., completion_ids=...,
trainer_state=..., log_extra=..., log_metric=..., **dataset_columns)`, so a function must
take `**kwargs` (the seed's `reward_fn(completions, prompts)` raises TypeError). It returns
one float per completion. GRPO already standardizes rewards within each group of
completions of a prompt, so extra normalization mostly matters for RLOO/PPO, for combining
several reward functions on one scale, or for clipping outliers.
"""
from __future__ import annotations

import math

from .formatting import as_text
from .thinking import has_closed_thinking


def make_reward_fn(scorer, fallback: float = 0.0):
    """A TRL reward function whose reward is `scorer.score_batch`: the scorer's one definition of the
    reward (head, verifier term, normalizer, clip), the same for a RewardScorer and an EnsembleScorer.
    For a normalized or clipped reward pass e.g. `scorer.replace(normalizer=norm, clip=3.0)`.

    Accepts plain or conversational prompts/completions (a conversation is scored with every turn);
    never returns NaN/inf (non-finite rewards become `fallback`).
    """
    if not hasattr(scorer, "score_batch"):
        raise TypeError(f"make_reward_fn needs a scorer with score_batch(), got {type(scorer).__name__}; "
                        "build one with RewardScorer.from_folder(DIR).")

    def reward_fn(completions, prompts=None, **kwargs) -> list[float]:
        if isinstance(completions, str):
            raise TypeError("completions must be a list (one entry per completion), not a single string.")
        texts = [as_text(c) for c in completions]
        if prompts is None:
            prompts = [""] * len(texts)
        if len(prompts) != len(texts):
            raise ValueError(f"got {len(prompts)} prompts for {len(texts)} completions; they must match.")
        rewards = scorer.score_batch(list(prompts), texts)   # conversations keep every turn
        return [float(r) if math.isfinite(r) else fallback for r in rewards]

    reward_fn.__name__ = "reward_model"
    return reward_fn


def think_format_reward(completions, **kwargs) -> list[float]:
    """1.0 if a completion closes a non-empty thinking block and then answers, else 0.0."""
    return [1.0 if has_closed_thinking(as_text(c)) else 0.0 for c in completions]


# ---------------------------------------------------------------- a policy and a short RL run
def policy_source(model_dir) -> str:
    """Folder or Hub id of the causal LM a saved reward model was built on.

    A LoRA reward model's `adapter_config.json` names its base (`base_model_name_or_path`):
    for `tiny` that is the cached, LM-warmed-up tiny Qwen3 body, which can generate text; for
    `qwen3-4b-thinking` it is the Hub model. Encoder reward models (`minilm`) have no causal-LM
    base: pass a policy of your own instead.
    """
    from pathlib import Path

    from .modeling import base_body, read_meta
    from .profiles import profile_from_dict

    folder = Path(model_dir)
    if not (folder / "adapter_config.json").exists():
        raise ValueError(f"{folder} holds no LoRA adapter, so it names no base causal LM to use as the policy; "
                         "pass a policy folder or Hub id to load_policy() instead.")
    return base_body(folder, profile_from_dict(read_meta(folder)["profile"]))


def load_policy(source, device: str | None = None, trained_vocab_only: bool = False):
    """(causal LM, tokenizer) to train with GRPO/RLOO: from a folder or Hub id, or from a saved
    reward-model folder (its base body, see `policy_source`, with the folder's own tokenizer, so the policy writes
    in the chat template the reward model was trained on). Pad token set on tokenizer and config.
    `trained_vocab_only`: if the body records the tokens its warm-up trained (the tiny body), keep only those in
    its output layer (`restrict_to_trained_vocab`): sampling and GRPO steps then cost a fraction on a CPU. A
    pretrained body (no such record) is returned whole."""
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .device import compute_dtype, pick_device
    from .paths import META_FILE
    from .warmup import trained_vocab

    tokenizer = AutoTokenizer.from_pretrained(source)   # a reward-model folder: the tokenizer (chat template) it was trained with
    if (Path(source) / META_FILE).exists():
        source = policy_source(source)
    device = device or pick_device()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=compute_dtype(device)).to(device)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if trained_vocab_only and trained_vocab(model):
        return restrict_to_trained_vocab(model, tokenizer)
    return model, tokenizer


def restrict_to_trained_vocab(model, tokenizer):
    """(model, tokenizer) whose output layer covers only the token ids the body's warm-up trained (plus pad
    and end of turn): the same next-token distribution over those tokens, ~260 logits instead of 151,936.

    The tiny body's warm-up trained a few hundred embedding rows (`warmup.trained_vocab`); the others are
    random, so the full softmax only adds noise, and its 151,936 x 256 output matrix is most of the cost of
    sampling and of every GRPO step on a CPU. The ids are renumbered (kept tokens first) in a copy of the
    tokenizer and in the input embedding (kept whole, frozen: prompts may use any token); the output layer
    starts as the kept rows and is trained untied. Greedy text is unchanged (checked by a test), and TRL
    decodes completions with the returned tokenizer, so reward functions see the same text."""
    import json
    import tempfile
    from pathlib import Path

    import torch
    from transformers import AutoTokenizer

    from .warmup import VOCAB_ATTR, trained_vocab

    if not trained_vocab(model):
        raise ValueError("this body records no warm-up vocabulary (config.warmup_vocab); use the full vocabulary.")
    keep = sorted(set(trained_vocab(model)) | {tokenizer.pad_token_id, tokenizer.eos_token_id})
    order = keep + sorted(set(range(model.config.vocab_size)) - set(keep))
    new_id = {old: new for new, old in enumerate(order)}
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["model"]["vocab"] = {token: new_id[i] for token, i in spec["model"]["vocab"].items()}
    for added in spec["added_tokens"]:   # the tokenizers library numbers added tokens after the vocab unless listed in it
        added["id"] = new_id[added["id"]]
        spec["model"]["vocab"][added["content"]] = added["id"]
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        (Path(folder) / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
        small = AutoTokenizer.from_pretrained(folder)
    embedding = model.get_input_embeddings()
    with torch.no_grad():
        embedding.weight.copy_(embedding.weight[torch.tensor(order, device=embedding.weight.device)])
    embedding.weight.requires_grad_(False)
    head = torch.nn.Linear(embedding.weight.shape[1], len(keep), bias=False, device=embedding.weight.device,
                           dtype=embedding.weight.dtype)
    with torch.no_grad():
        head.weight.copy_(embedding.weight[:len(keep)])
    model.config.tie_word_embeddings = False
    model.set_output_embeddings(head)
    model.config.vocab_size = len(keep)   # the output layer's size: what the causal-LM loss (SFT) reshapes logits by
    for config in (model.config, model.generation_config):
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            value = getattr(config, name, None)
            if value is not None:
                setattr(config, name, [new_id[v] for v in value] if isinstance(value, list) else new_id[value])
    setattr(model.config, VOCAB_ATTR, list(range(len(keep))))
    return model, small


def complete(policy, tokenizer, prompts, max_new_tokens: int = 128, n: int = 1, top_k: int | None = None,
             seed: int = 0) -> list[list[str]]:
    """`n` completions of each prompt (a string or a conversation) through the policy's chat template, in one
    left-padded batch: greedy, or with `top_k` sampled among the `top_k` likeliest tokens at temperature 1
    (seeded: the same call gives the same completions). The tokenizer's padding side and the model's
    train/eval mode are left as they were."""
    import torch

    from .formatting import messages_of

    texts = [tokenizer.apply_chat_template(messages_of(p), add_generation_prompt=True, tokenize=False) for p in prompts]
    side, was_training = tokenizer.padding_side, policy.training
    tokenizer.padding_side = "left"
    policy.eval()
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(policy.device)
        torch.manual_seed(seed)
        sampling = dict(do_sample=True, top_k=top_k, temperature=1.0) if top_k else dict(do_sample=False)
        with torch.inference_mode():
            out = policy.generate(**batch, max_new_tokens=max_new_tokens, num_return_sequences=n, **sampling)
    finally:
        tokenizer.padding_side = side
        policy.train(was_training)
    decoded = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [decoded[i * n:(i + 1) * n] for i in range(len(prompts))]


def prompt_dataset(prompts, conversational: bool = True, **columns):
    """A `datasets.Dataset` with a `prompt` column (as user messages if `conversational`, so the
    policy's chat template is applied) plus any extra columns, which TRL passes to reward functions."""
    from datasets import Dataset

    rows = {"prompt": [[{"role": "user", "content": p}] if conversational and isinstance(p, str) else p
                       for p in prompts]}
    for name, values in columns.items():
        if len(values) != len(prompts):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(prompts)} prompts")
        rows[name] = list(values)
    return Dataset.from_dict(rows)


def frozen_copy(model):
    """A copy of `model` as it is now, in eval mode and without gradients: the reference a KL penalty measures from."""
    import copy

    return copy.deepcopy(model).eval().requires_grad_(False)


def use_reference(trainer, reference):
    """Make `reference` the KL reference of a GRPO/RLOO trainer (`beta > 0`), prepared as TRL prepares its own.

    TRL builds its reference by loading the policy's `config._name_or_path` again. That is the policy as it starts
    only if nothing changed it since it was loaded: not after `restrict_to_trained_vocab` (renumbered ids, another
    output layer: a wrong KL, and the full 151,936-token softmax on every step) nor after a fine-tuning such as
    `rl_demo.train_to_skip_thinking`. A copy taken before the trainer was built is the start itself."""
    from trl.trainer.utils import add_fused_lm_head, disable_dropout_in_model

    if trainer.args.disable_dropout:
        disable_dropout_in_model(reference)
    add_fused_lm_head(reference, temperature=trainer.temperature)
    trainer.ref_model = trainer.accelerator.prepare_model(reference, evaluation_mode=True)


def _rl_run(trainer_cls, config_cls, model, tokenizer, reward_funcs, dataset, output_dir, max_steps, num_generations,
            max_completion_length, prompts_per_step, learning_rate, seed, callbacks, config):
    from accelerate.utils import is_peft_model

    from .device import trainer_precision
    from .setup import one_bar

    args = config_cls(
        output_dir=str(output_dir), report_to="none", seed=seed, data_seed=seed, max_steps=max_steps,
        learning_rate=learning_rate, num_generations=num_generations, max_completion_length=max_completion_length,
        per_device_train_batch_size=num_generations * prompts_per_step, gradient_accumulation_steps=1,
        logging_steps=1, save_strategy="no", gradient_checkpointing=False, dataloader_num_workers=0,
        disable_tqdm=False, **trainer_precision(model.device.type), **config,
    )
    reference = frozen_copy(model) if args.beta and not is_peft_model(model) else None   # before TRL patches the model
    trainer = trainer_cls(model=model, reward_funcs=list(reward_funcs), args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=list(callbacks))
    if reference is not None:
        use_reference(trainer, reference)
    one_bar(trainer)
    trainer.train()
    return trainer


def run_grpo(model, tokenizer, reward_funcs, dataset, output_dir, max_steps: int = 8, num_generations: int = 4,
             max_completion_length: int = 64, prompts_per_step: int = 2, learning_rate: float = 1e-5, seed: int = 0,
             callbacks=(), **config):
    """Run TRL's GRPOTrainer for `max_steps` steps and return the trainer.

    Each step samples `num_generations` completions for each of `prompts_per_step` prompts,
    scores them with every function in `reward_funcs` (summed, or weighted by `reward_weights`),
    and standardizes the sum within each group of `num_generations`. Rewards are logged in
    `trainer.state.log_history` (see `reward_table`). Extra GRPOConfig fields go in `**config`.
    """
    from trl import GRPOConfig, GRPOTrainer

    return _rl_run(GRPOTrainer, GRPOConfig, model, tokenizer, reward_funcs, dataset, output_dir, max_steps,
                   num_generations, max_completion_length, prompts_per_step, learning_rate, seed, callbacks, config)


def run_rloo(model, tokenizer, reward_funcs, dataset, output_dir, max_steps: int = 8, num_generations: int = 4,
             max_completion_length: int = 64, prompts_per_step: int = 2, learning_rate: float = 1e-5, seed: int = 0,
             callbacks=(), **config):
    """The same as `run_grpo` with TRL's RLOOTrainer (baseline = mean reward of the other completions)."""
    from trl import RLOOConfig, RLOOTrainer

    return _rl_run(RLOOTrainer, RLOOConfig, model, tokenizer, reward_funcs, dataset, output_dir, max_steps,
                   num_generations, max_completion_length, prompts_per_step, learning_rate, seed, callbacks, config)


def trl_reward_trainer(policy, tokenizer, reward_funcs, output_dir, reward_processing_classes=None):
    """A GRPOTrainer built only to call TRL's own reward computation (`trl_rewards`); it never trains."""
    from trl import GRPOConfig, GRPOTrainer

    from .device import trainer_precision

    args = GRPOConfig(output_dir=str(output_dir), report_to="none", num_generations=2, per_device_train_batch_size=2,
                      max_steps=1, **trainer_precision("cpu"))
    return GRPOTrainer(model=policy, args=args, processing_class=tokenizer, reward_funcs=list(reward_funcs),
                       reward_processing_classes=reward_processing_classes, train_dataset=prompt_dataset(["", ""]))


def trl_rewards(trainer, prompts, completions, conversational: bool = True, **columns) -> list[list[float]]:
    """Rewards as TRL's GRPOTrainer computes them during training (`_calculate_rewards`): one row per
    completion, one column per reward function. `columns` are dataset columns, passed on to reward functions
    as keyword arguments; with `conversational`, prompts and completions are message lists, as TRL passes them."""
    ps = [[{"role": "user", "content": p}] if conversational else p for p in prompts]
    cs = [[{"role": "assistant", "content": c}] if conversational else c for c in completions]
    inputs = [{"prompt": p, **{name: values[i] for name, values in columns.items()}} for i, p in enumerate(ps)]
    ids = [trainer.processing_class(c, add_special_tokens=False)["input_ids"] for c in completions]
    return trainer._calculate_rewards(inputs, ps, cs, ids).cpu().tolist()


def trl_model_path_rewards(model_dir, prompts, completions, output_dir) -> dict:
    """The rewards TRL computes when handed the saved reward-model folder itself,
    `GRPOTrainer(reward_funcs=FOLDER, reward_processing_classes=TOKENIZER)`, beside the kit's reward function.

    TRL loads the folder with `AutoModelForSequenceClassification`, renders prompt + completion by its own
    rules (the chat template for conversational prompts, plain `prompt + completion` otherwise), pads right,
    never truncates, and reads `logits[:, 0]`: the head alone, with no verifier term and no normalizer.
    Runs TRL's own reward computation (`trl_rewards`, no training; the folder's body is the stand-in policy).
    Returns {"conversational" | "plain": {"trl model path", "kit head only", "kit reward"}: rewards}.
    """
    from transformers.utils import logging as hf_logging

    from .scoring import RewardScorer

    scorer = RewardScorer.from_folder(model_dir)
    policy, tokenizer = load_policy(model_dir, device="cpu")
    names = ("trl model path", "kit head only", "kit reward")
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()   # its load report calls the head MISSING: true of the base, before the adapter
    try:
        trainer = trl_reward_trainer(policy, tokenizer,
                                     [str(model_dir), make_reward_fn(scorer.head_only()), make_reward_fn(scorer)],
                                     output_dir, reward_processing_classes=[scorer.tokenizer, None, None])
    finally:
        hf_logging.set_verbosity(level)
    out = {}
    for form in ("conversational", "plain"):
        rows = trl_rewards(trainer, prompts, completions, conversational=form == "conversational")
        out[form] = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return out


def reward_table(log_history) -> list[dict]:
    """The reward columns of a TRL log history (or trainer): one row per logged training step with
    `step`, `reward`, `reward_std` and each reward function's `rewards/NAME/mean` and `/std`."""
    log_history = getattr(getattr(log_history, "state", None), "log_history", log_history)
    rows = []
    for entry in log_history:
        if entry.get("reward") is None:
            continue
        row = {"step": entry.get("step")}
        row.update({k: v for k, v in entry.items() if k == "reward" or k == "reward_std" or k.startswith("rewards/")})
        rows.append(row)
    return rows


def plot_rewards(rows, save=None):
    """Mean reward per step from `reward_table` rows: the sum GRPO optimizes, then each reward function
    in a panel of its own (their scales differ, e.g. a reward model's 13..21 and a 0..1 format reward)."""
    import matplotlib.pyplot as plt

    from .plots import _finish

    keys = sorted({k for r in rows for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    fig, axes = plt.subplots(1, 1 + len(keys), figsize=(4 * (1 + len(keys)), 3.4), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, key, name in zip(axes[0], ["reward", *keys], ["reward (sum)", *(k.split("/")[1] for k in keys)]):
        ax.plot(steps, [r.get(key) for r in rows], "o-", color="black" if key == "reward" else None)
        ax.set(title=name, xlabel="GRPO step", ylabel="mean over the batch (higher is better)")
    fig.suptitle("Rewards during GRPO")
    return _finish(fig, save)
