"""The `qwen3-4b-thinking` profile's loading path (4-bit NF4 + LoRA SEQ_CLS + gradient checkpointing)
on CPU with a small random Qwen3 saved to a folder (no download). Its settings: tests/test_profiles.py."""
import pytest

from helpers import make_pairs
from nbhelpers.profiles import SEVEN_PROJECTIONS, get_profile


def test_bf16_compute_on_cuda_config():
    import torch

    from nbhelpers import modeling
    cfg = modeling.quantization_config("cpu")
    assert cfg.load_in_4bit and cfg.bnb_4bit_quant_type == "nf4" and cfg.bnb_4bit_use_double_quant
    assert cfg.bnb_4bit_compute_dtype == torch.float32          # CPU: fp32 compute (bf16 is ~35x slower)
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        assert modeling.quantization_config("cuda").bnb_4bit_compute_dtype == torch.bfloat16


@pytest.fixture(scope="module")
def small_qwen3(tmp_path_factory):
    import torch
    from transformers import Qwen3Config, Qwen3ForSequenceClassification

    from nbhelpers.tokenizer import qwen3_tokenizer

    tok = qwen3_tokenizer()
    config = Qwen3Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=32, intermediate_size=128, vocab_size=151936, tie_word_embeddings=True,
                         max_position_embeddings=1024, num_labels=1, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = Qwen3ForSequenceClassification(config).to(torch.bfloat16)   # like the Hub checkpoint
    folder = tmp_path_factory.mktemp("qwen3-small")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_gpu_profile_loading_path_on_cpu(small_qwen3, tmp_path):
    import torch
    from transformers import Qwen3ForSequenceClassification

    from nbhelpers.modeling import load_for_training
    from nbhelpers.training import train_reward_model

    profile = get_profile("qwen3-4b-thinking", model=str(small_qwen3), max_length=256)
    model, tok = load_for_training(profile, [], device="cpu")
    base = model.get_base_model()
    assert isinstance(base, Qwen3ForSequenceClassification)
    assert model.peft_config["default"].task_type == "SEQ_CLS"
    lora = model.peft_config["default"]                           # the profile's LoRA recipe reaches PEFT
    assert (lora.r, lora.lora_alpha) == (profile.lora["r"], profile.lora["lora_alpha"])
    assert set(lora.target_modules) == set(profile.lora["target_modules"]) == set(SEVEN_PROJECTIONS)
    for name in SEVEN_PROJECTIONS:
        mod = getattr(base.model.layers[0].self_attn if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj"))
                      else base.model.layers[0].mlp, name)
        assert mod.base_layer.weight.__class__.__name__ == "Params4bit"
        assert mod.base_layer.weight.quant_type == "nf4"
        assert mod.lora_A["default"].weight.requires_grad
    assert base.is_gradient_checkpointing                          # prepare_model_for_kbit_training
    score = [(n, p) for n, p in model.named_parameters() if "score" in n and p.requires_grad]
    assert score, "the score head must be trainable (modules_to_save)"
    assert not any(p.requires_grad for n, p in model.named_parameters() if "embed_tokens" in n)

    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    result = train_reward_model(make_pairs(8), profile=profile, max_steps=1, model=model,
                                tokenizer=tok, checkpoint_dir=tmp_path / "ckpt")
    assert result.history and any("loss" in row for row in result.history)
    changed = [n for n, p in result.model.named_parameters() if n in before and not torch.equal(before[n], p)]
    assert changed, "one optimizer step must change the trainable weights"
    assert result.meta["quantize_4bit"]
