"""Every offline profile runs the helpers the notebooks' cells call (02: head modules, parameters,
training; 03: evaluation tables, parts, normalizer, widget; 04: the reward function and the policy)."""
import pytest

from nbhelpers import evaluation, grpo, modeling, widgets
from nbhelpers.profiles import get_profile
from nbhelpers.scoring import RewardScorer
from nbhelpers.training import train_reward_model

PAIRS = [{"prompt": f"What is {a} + 7?", "chosen": f"<think>\n{a} + 7 = {a + 7}\n</think>\n\nThe answer is {a + 7}.",
          "rejected": f"The answer is {a + 8}.", "category": "cat" + str(a % 2)} for a in range(10, 18)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny", "minilm", "smollm2-135m"])
def test_notebook_helpers_run_on_every_offline_profile(name, tmp_path):
    profile = get_profile(name, max_length=128, batch_size=4)
    model, tok = modeling.load_for_training(profile, PAIRS, device="cpu")
    assert modeling.head_modules(model)                                        # 02: the head, LoRA or not
    assert 0 < modeling.count_parameters(model)["trainable"] < modeling.count_parameters(model)["total"] or not profile.lora
    train_reward_model(PAIRS, PAIRS, profile=profile, out=tmp_path / "rm", model=model, tokenizer=tok, max_steps=1,
                       checkpoint_dir=tmp_path / "ckpt")
    scorer = RewardScorer.from_folder(tmp_path / "rm", device="cpu")           # 03
    report = evaluation.evaluate_pairs(scorer, PAIRS)
    table = evaluation.category_table({"combined": report, "head only": report.get("head_only", report)})
    assert "cat0" in table and "overall" in table
    assert len(evaluation.evaluate_pairs(scorer.replace(part="answer"), PAIRS)["margins"]) == len(PAIRS)
    norm = scorer.fit_normalizer([p["prompt"] for p in PAIRS], [p["chosen"] for p in PAIRS])
    assert "reward:" in widgets.reward_html(scorer.replace(normalizer=norm), PAIRS[0]["prompt"], PAIRS[0]["chosen"])
    rewards = grpo.make_reward_fn(scorer)(completions=[p["chosen"] for p in PAIRS], prompts=[p["prompt"] for p in PAIRS])
    assert len(rewards) == len(PAIRS)                                          # 04
    if name == "minilm":                                                       # an encoder has no policy to offer
        with pytest.raises(ValueError):
            grpo.policy_source(tmp_path / "rm")
    else:
        template = tmp_path / "rm" / "chat_template.jinja"
        template.write_text(template.read_text() + "{#- the reward model's own copy -#}")
        policy, policy_tokenizer = grpo.load_policy(tmp_path / "rm", device="cpu")
        assert policy.config.model_type in ("qwen3", "llama")
        assert policy_tokenizer.chat_template.endswith("{#- the reward model's own copy -#}")   # what it was trained on
