"""The tiny profile's pretrained body: shipped, tied to its recipe, materialised exactly, never
rebuilt for a user's own data, and a long warm-up continues after an interruption."""
import json

import pytest
import torch

from nbhelpers import body, warmup
from nbhelpers.paths import TRAIN_FILE
from nbhelpers.profiles import get_profile
from nbhelpers.tokenizer import qwen3_tokenizer

SMALL = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
             intermediate_size=64, vocab_size=151936, tie_word_embeddings=True, max_position_embeddings=256)
TEXTS = [f"<think>\n{a} + {b} = {a + b}\n</think>\n\nThe answer is {a + b}." for a in range(10, 40) for b in (3, 7)]


@pytest.fixture
def small(monkeypatch, tmp_path):
    monkeypatch.setenv("NBHELPERS_CACHE", str(tmp_path / "cache"))
    return get_profile("tiny", tiny_config=SMALL, warmup_lm_steps=6, warmup_corpus=0)


def test_shipped_body_matches_the_recipe_in_the_code():
    """The shipped file was made by the recipe the code states (config, steps, seed, corpus texts).
    If the profile, the corpus generator or the training split changes, this fails: run `make body`."""
    profile = get_profile("tiny")
    texts = body.body_corpus(profile, qwen3_tokenizer())
    assert len(texts) == profile.warmup_corpus + sum(1 for _ in open(TRAIN_FILE))
    shipped = body.shipped_metadata()
    assert shipped["recipe_key"] == body.recipe_key(profile), "shipped body is stale: run `make body`"
    assert shipped["corpus_hash"] == body.corpus_hash(texts), "the body corpus changed: run `make body`"


def test_shipped_file_holds_only_what_the_warmup_trained():
    from safetensors import safe_open

    with safe_open(body.SHIPPED_BODY, "pt") as f:
        names = set(f.keys())
        recipe = json.loads(f.metadata()["recipe"])
        rows = f.get_slice(body.ROWS_KEY).get_shape()
    assert recipe["warmup_lm_steps"] == get_profile("tiny").warmup_lm_steps
    assert not any("embed_tokens" in n or "lm_head" in n for n in names)   # the 151,936-row matrix is not shipped
    assert rows[1] == 256 and 100 < rows[0] < 5000
    assert body.SHIPPED_BODY.stat().st_size < 20 * 2**20


@pytest.mark.slow
def test_export_then_materialize_gives_the_built_tensors_exactly(small, tmp_path):
    tok = qwen3_tokenizer()
    built = body.build(small, tok, TEXTS, checkpoint=None)
    path = body.export(built, small, "k", TEXTS, tmp_path / "body.safetensors")
    loaded = body.materialize(small, tok, path=path).state_dict()
    reference = built.state_dict()
    assert loaded.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(loaded[name], tensor), name
    fresh = body._new_model(small, tok, 0)   # a warm-up that changed nothing would make this test pass trivially
    assert not torch.equal(fresh.model.layers[0].mlp.up_proj.weight, built.model.layers[0].mlp.up_proj.weight)


def test_materialize_rejects_a_file_of_another_config(small, tmp_path):
    tok = qwen3_tokenizer()
    path = body.export(body.build(small, tok, TEXTS), small, "k", TEXTS, tmp_path / "body.safetensors")
    other = get_profile("tiny", tiny_config={**SMALL, "num_hidden_layers": 2})
    with pytest.raises(RuntimeError, match="make body"):
        body.materialize(other, tok, path=path)


@pytest.mark.slow
def test_own_data_does_not_change_the_body_unless_asked(small, monkeypatch):
    monkeypatch.setattr(body, "body_corpus", lambda profile, tok: TEXTS)
    base = body.tiny_body(small)
    assert body.tiny_body(small, ["some user's own text"]) == base     # no new pretraining
    own = body.tiny_body(get_profile("tiny", tiny_config=SMALL, warmup_lm_steps=6, warmup_corpus=0,
                                     warmup_own_steps=3), ["<think>\nA new kind of text.\n</think>\n\nYes."])
    assert own != base and own.name.startswith(base.name + "-own-")
    vocab_base = json.loads((base / "config.json").read_text())["warmup_vocab"]
    vocab_own = json.loads((own / "config.json").read_text())["warmup_vocab"]
    assert set(vocab_base) < set(vocab_own)                             # earlier rows stay in the verifier's softmax


@pytest.mark.slow
def test_interrupted_warmup_continues_to_the_same_result(small, tmp_path, monkeypatch, capsys):
    tok = qwen3_tokenizer()
    uninterrupted = body.build(small, tok, TEXTS).state_dict()

    real_progress = warmup.progress

    class DiesAfterFour:
        """The warm-up's progress bar, but the run is killed (a timeout, Ctrl-C) after 4 steps."""
        def __init__(self, iterable, **kw):
            self.bar = real_progress(iterable, **kw)

        def __iter__(self):
            for i, step in enumerate(self.bar):
                if i == 4:
                    raise KeyboardInterrupt
                yield step

        def set_postfix(self, **kw):
            self.bar.set_postfix(**kw)
    checkpoint = tmp_path / "warmup.pt"
    monkeypatch.setattr(warmup, "progress", DiesAfterFour)
    model = body._new_model(small, tok, 0)
    with pytest.raises(KeyboardInterrupt):
        warmup.warm_up_lm(model, tok, TEXTS, steps=6, checkpoint=checkpoint, checkpoint_every=2)
    assert checkpoint.exists()
    monkeypatch.setattr(warmup, "progress", real_progress)
    model = body._new_model(small, tok, 0)
    warmup.warm_up_lm(model, tok, TEXTS, steps=6, checkpoint=checkpoint, checkpoint_every=2)
    assert "continuing from the checkpoint at step 4" in capsys.readouterr().out
    assert not checkpoint.exists()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, uninterrupted[name]), name


def test_warmup_prints_its_measured_cost_before_it_starts(small, capsys):
    body.build(small, qwen3_tokenizer(), TEXTS)
    out = capsys.readouterr().out
    assert "6 steps of 16 texts" in out and "s per step here, so about" in out


def test_rebuild_writes_a_file_that_loads_back_exactly(small, tmp_path, monkeypatch):
    monkeypatch.setattr(body, "body_corpus", lambda profile, tok: TEXTS)
    report = body.rebuild(small, path=tmp_path / "tiny.safetensors")
    assert report["max_abs_diff"] == 0 and report["steps"] == 6 and report["texts"] == len(TEXTS)
    assert body.shipped_key() != report["recipe_key"]            # the shipped file itself was not touched
    written = body.shipped_metadata(tmp_path / "tiny.safetensors")
    assert written["recipe_key"] == report["recipe_key"] == body.recipe_key(small)
    assert written["corpus_hash"] == body.corpus_hash(TEXTS)


@pytest.mark.slow
def test_a_model_folder_loads_on_a_machine_without_its_cached_body(tmp_path, monkeypatch):
    """The adapter records the absolute path of the cached body; elsewhere (or after the cache is
    cleared) the shipped body is loaded again and the rewards are the same."""
    import shutil

    from helpers import make_pairs
    from nbhelpers.scoring import RewardScorer
    from nbhelpers.training import train_reward_model

    monkeypatch.setenv("NBHELPERS_CACHE", str(tmp_path / "here"))
    pairs = make_pairs(16)
    train_reward_model(pairs, profile=get_profile("tiny", max_length=128), max_steps=2, out=tmp_path / "rm",
                       checkpoint_dir=tmp_path / "ckpt")
    prompts, responses = [p["prompt"] for p in pairs], [p["chosen"] for p in pairs]
    before = RewardScorer.from_folder(tmp_path / "rm", device="cpu").score_batch(prompts, responses)
    shutil.rmtree(tmp_path / "here")
    monkeypatch.setenv("NBHELPERS_CACHE", str(tmp_path / "elsewhere"))
    after = RewardScorer.from_folder(tmp_path / "rm", device="cpu").score_batch(prompts, responses)
    assert max(abs(a - b) for a, b in zip(before, after)) < 1e-6
