"""The `tiny` profile's body: a 4-layer Qwen3, pretrained once as a causal LM and shipped with the kit.

Recipe (`recipe_key`, and the corpus pinned by `corpus_hash`): build `Qwen3ForCausalLM(config)` with seed 0, then warm it up for
`warmup_lm_steps` steps of next-token prediction on the *body corpus*: the chosen texts of the
shipped training split plus `warmup_corpus` generated worked solutions (generate/corpus.py). The corpus is
fixed; a user's own training data never changes it, so it never triggers a new pretraining.

The warm-up trains the layers and only the embedding rows of the tokens it reads, so the kit ships
just those (`SHIPPED_BODY`, float32, with the recipe key in its metadata); the untouched rows are
rebuilt from the seed. Materialising the body from it takes seconds and gives the very tensors the
build produced (checked by `python -m nbhelpers body --rebuild`). A test ties the shipped file's key
to this code, so the file cannot drift from the recipe that claims to have made it.

Warming the body further on one's own texts is explicit (`warmup_own_steps`, CLI
`train --warm-up-on-data STEPS`): its cost is measured and printed before it starts, and like every
build it is checkpointed, so an interrupted run continues where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from .files import atomic_write, cache_root, file_lock, save_pretrained_atomically
from .formatting import format_text
from .profiles import Profile
from .tokenizer import qwen3_tokenizer
from .warmup import VOCAB_ATTR, trained_vocab, untied_state, warm_up_lm

TINY_BODY_VERSION = 5   # bump when the body or its corpus changes (invalidates caches and the shipped file)
SHIPPED_BODY = Path(__file__).with_name("weights") / "tiny_qwen3.safetensors"
VOCAB_KEY, ROWS_KEY = VOCAB_ATTR, "warmup_rows"   # ids of the trained embedding rows, and the rows


def body_corpus(profile: Profile, tokenizer) -> list[str]:
    """The fixed texts the body is pretrained on: chosen texts of the shipped training split + the corpus."""
    from .generate.corpus import warmup_corpus
    from .data import load_pairs
    from .paths import TRAIN_FILE

    texts = [format_text(tokenizer, p["prompt"], p["chosen"]) for p in load_pairs(TRAIN_FILE)]
    return texts + [format_text(tokenizer, p, r) for p, r in warmup_corpus(profile.warmup_corpus)]


def recipe_key(profile: Profile, seed: int = 0) -> str:
    """Short hash of what determines the body: version, config, steps, corpus size, seed. The corpus
    texts themselves are pinned by the shipped file's `corpus_hash` (checked by a test, not at run
    time, so loading the body never generates the corpus)."""
    key = json.dumps([TINY_BODY_VERSION, profile.tiny_config, profile.warmup_lm_steps, profile.warmup_corpus, seed],
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def corpus_hash(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(texts)).encode()).hexdigest()


def shipped_metadata(path: Path = SHIPPED_BODY) -> dict:
    """The shipped body file's metadata (recipe_key, corpus_hash, recipe); {} if there is no file."""
    if not path.exists():
        return {}
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        return f.metadata()


def shipped_key() -> str | None:
    return shipped_metadata().get("recipe_key")


def tiny_body(profile: Profile, own_texts: list[str] | None = None, seed: int = 0) -> Path:
    """Folder of the profile's tiny body (cached under `cache_root()`).

    The pretrained body comes from the shipped file when its recipe key matches, else it is built
    (cost printed, checkpointed). With `profile.warmup_own_steps` and `own_texts`, the body is then
    warmed further on those texts, cached separately.
    """
    base = _cached(_base_folder(profile, seed), lambda folder: _make_base(profile, seed, folder))
    if not (profile.warmup_own_steps and own_texts):
        return base
    own = hashlib.sha256(json.dumps([profile.warmup_own_steps, sorted(own_texts)]).encode()).hexdigest()[:12]
    return _cached(base.with_name(f"{base.name}-own-{own}"),
                   lambda folder: _continue(base, own_texts, profile.warmup_own_steps, seed, folder))


def _base_folder(profile: Profile, seed: int) -> Path:
    return cache_root() / f"tiny-qwen3-{recipe_key(profile, seed)}"


def _cached(folder: Path, make) -> Path:
    """`folder` if complete, else `make(folder)`; one maker at a time (ranks, parallel runs)."""
    if (folder / "config.json").exists():
        return folder
    with file_lock(folder.with_name(folder.name + ".lock")):
        if not (folder / "config.json").exists():
            make(folder)
    return folder


def _new_model(profile: Profile, tokenizer, seed: int):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(**profile.tiny_config, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    return Qwen3ForCausalLM(config)


def _checkpoint(folder: Path) -> Path:
    """Where the warm-up that makes `folder` keeps its checkpoint (a cache build and `make body` share it)."""
    return folder.with_name(f".{folder.name}.warmup.pt")


def _make_base(profile: Profile, seed: int, folder: Path) -> None:
    """Materialise the pretrained body from the shipped file, or build it when the recipe differs."""
    tokenizer = qwen3_tokenizer()
    key = recipe_key(profile, seed)
    if profile.warmup_lm_steps and shipped_key() == key:
        start = time.time()
        save_pretrained_atomically(folder, materialize(profile, tokenizer, seed), tokenizer)
        print(f"tiny body: loaded the shipped pretrained body ({SHIPPED_BODY.name}, recipe {key}) "
              f"in {time.time() - start:.1f} s -> {folder}", flush=True)
        return
    texts = body_corpus(profile, tokenizer) if profile.warmup_lm_steps else []
    if texts:
        print(f"tiny body: this recipe ({key}) is not the shipped body's ({shipped_key()}), so it is built now.",
              flush=True)
    save_pretrained_atomically(folder, build(profile, tokenizer, texts, seed, _checkpoint(folder)), tokenizer)


def build(profile: Profile, tokenizer, texts: list[str], seed: int = 0, checkpoint: Path | None = None):
    """Build the body from its config and warm it up on `texts` (the recipe), returning the model."""
    model = _new_model(profile, tokenizer, seed)
    if profile.warmup_lm_steps and texts:
        warm_up_lm(model, tokenizer, texts, steps=profile.warmup_lm_steps, seed=seed, checkpoint=checkpoint,
                   what="pretraining the tiny body")
    return model


def _continue(base: Path, texts: list[str], steps: int, seed: int, folder: Path) -> None:
    from transformers import Qwen3ForCausalLM

    tokenizer = qwen3_tokenizer()
    model = Qwen3ForCausalLM.from_pretrained(base)
    warm_up_lm(model, tokenizer, texts, steps=steps, seed=seed, checkpoint=_checkpoint(folder),
               what="warming the body further on your training texts")
    save_pretrained_atomically(folder, model, tokenizer)


# ---------------------------------------------------------------- the shipped file
def trained_tensors(model) -> dict[str, torch.Tensor]:
    """What a warm-up changed: every parameter but the tied embedding, plus the trained embedding rows."""
    vocab = torch.tensor(trained_vocab(model), dtype=torch.long)
    tensors = {name: t.detach().contiguous() for name, t in untied_state(model).items()}
    rows = model.get_input_embeddings().weight.detach()[vocab].contiguous()
    return {**tensors, VOCAB_KEY: vocab, ROWS_KEY: rows}


def export(model, profile: Profile, key: str, texts: list[str], path: Path = SHIPPED_BODY) -> Path:
    """Write the trained tensors of a built body, its recipe key and corpus hash to `path` (atomically)."""
    from safetensors.torch import save_file

    recipe = {"version": TINY_BODY_VERSION, "tiny_config": profile.tiny_config, "warmup_lm_steps":
              profile.warmup_lm_steps, "warmup_corpus": profile.warmup_corpus, "torch": torch.__version__}
    metadata = {"recipe_key": key, "corpus_hash": corpus_hash(texts), "recipe": json.dumps(recipe, sort_keys=True)}
    return atomic_write(path, lambda tmp: save_file(trained_tensors(model), str(tmp), metadata=metadata))


def materialize(profile: Profile, tokenizer, seed: int = 0, path: Path = SHIPPED_BODY):
    """The pretrained body: built from the config and seed, then the shipped trained tensors put in."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    vocab, rows = tensors.pop(VOCAB_KEY), tensors.pop(ROWS_KEY)
    model = _new_model(profile, tokenizer, seed)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    embedding = model.get_input_embeddings().weight
    untied = [k for k in missing if model.state_dict()[k].data_ptr() != embedding.data_ptr()]
    if untied or unexpected:
        raise RuntimeError(f"{path} does not fit the tiny config: missing {untied}, unexpected {unexpected}; "
                           "rebuild it with `make body`.")
    with torch.no_grad():
        embedding[vocab] = rows
    setattr(model.config, VOCAB_ATTR, vocab.tolist())
    return model.eval()


def rebuild(profile: Profile, seed: int = 0, path: Path = SHIPPED_BODY) -> dict:
    """`make body`: build the body from scratch, write the shipped file, and check that materialising
    it gives the built tensors exactly. Returns what was done."""
    tokenizer = qwen3_tokenizer()
    texts = body_corpus(profile, tokenizer)
    key = recipe_key(profile, seed)
    start = time.time()
    model = build(profile, tokenizer, texts, seed, _checkpoint(_base_folder(profile, seed)))
    seconds = time.time() - start
    export(model, profile, key, texts, path)
    loaded = materialize(profile, tokenizer, seed, path).state_dict()
    max_diff = max((loaded[k] - t).abs().max().item() for k, t in model.state_dict().items())
    if max_diff != 0:
        raise RuntimeError(f"the body materialised from {path} differs from the built one (max |diff| {max_diff})")
    return {"recipe_key": key, "texts": len(texts), "steps": profile.warmup_lm_steps, "build_seconds": round(seconds, 1),
            "file": str(path), "megabytes": round(path.stat().st_size / 2**20, 1), "max_abs_diff": max_diff}
