"""Robustness: the GRPO reward function never breaks an RL run; misuse and slow choices get clear messages."""
import math
import warnings

import pytest
import torch

from nbhelpers.grpo import make_reward_fn
from nbhelpers.device import compute_dtype
from nbhelpers.modeling import load_for_training, load_reward_model
from nbhelpers.scoring import RewardScorer


@pytest.fixture(scope="module")
def scorer(tiny_profile):
    model, tok = load_for_training(tiny_profile, [])
    return RewardScorer(model.eval(), tok, meta={"profile": tiny_profile.to_dict()})


def test_reward_fn_gives_one_finite_float_per_odd_completion(scorer):
    fn = make_reward_fn(scorer)
    completions = ["", "   \n\t", "x" * 20000, "ünïcödé 你好 🙂 </think> ok", None,
                   [{"role": "assistant", "content": "<think>\nr\n</think>\n\nA."}], "<think>" * 500]
    rewards = fn(completions=completions, prompts=["q"] * len(completions), completion_ids=[[1]] * len(completions),
                 trainer_state=None, log_extra=lambda *a: None, log_metric=lambda *a: None, answer=["1"] * len(completions))
    assert len(rewards) == len(completions)
    assert all(isinstance(r, float) and math.isfinite(r) for r in rewards)


def test_reward_fn_replaces_nan_and_inf(scorer):
    class Broken:
        def score_batch(self, prompts, responses):
            return [float("nan"), float("inf"), -float("inf"), 1.5][: len(responses)]

    assert make_reward_fn(Broken(), fallback=0.0)(["a", "b", "c", "d"]) == [0.0, 0.0, 0.0, 1.5]


def test_reward_fn_misuse_is_explained(scorer):
    with pytest.raises(TypeError, match="RewardScorer.from_folder"):
        make_reward_fn("outputs/reward-model")
    fn = make_reward_fn(scorer)
    with pytest.raises(TypeError, match="list"):
        fn("a single string")
    with pytest.raises(ValueError, match="must match"):
        fn(["a", "b"], prompts=["only one"])


def test_long_texts_keep_their_end_within_max_length(scorer):
    ids = scorer.encode("q", "word " * 5000 + "END")
    assert len(ids) == scorer.max_length
    assert "END" in scorer.tokenizer.decode(ids[-6:])


def test_bf16_on_cpu_warns_and_names_float32():
    with pytest.warns(UserWarning, match="float32"):
        assert compute_dtype("cpu", "bfloat16") == torch.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute_dtype("cpu") == torch.float32
    with pytest.raises(ValueError, match="not a torch dtype"):
        compute_dtype("cpu", "float33")


def test_missing_folder_and_folder_without_tokenizer(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_reward_model(tmp_path / "nothing")
    (tmp_path / "rm").mkdir()
    (tmp_path / "rm" / "nbhelpers.json").write_text('{"profile": {}}')
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_reward_model(tmp_path / "rm")
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="not a reward-model folder"):
        load_reward_model(tmp_path / "other")


@pytest.mark.slow
def test_hub_model_without_network_suggests_model_path_or_tiny(monkeypatch, tmp_path):
    from nbhelpers.modeling import load_tokenizer
    from nbhelpers.profiles import get_profile

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)   # read once, when the hub was imported
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("MODEL_PATH", raising=False)
    with pytest.raises(RuntimeError, match="MODEL_PATH.*REWARD_PROFILE=tiny"):
        load_tokenizer(get_profile("qwen3-4b-thinking"))
