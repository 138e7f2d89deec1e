"""The GPU memory ESTIMATE (nbhelpers/memory.py) for Qwen3-4B."""
from nbhelpers.memory import GIB, QWEN3_4B, Arch, estimate, nf4_bytes_per_weight


def test_qwen3_4b_counts_and_profile_fits_10gib():
    counts = Arch.from_config(QWEN3_4B).parameter_counts()
    assert 4.0e9 < counts["total"] < 4.05e9            # Qwen3-4B: 4.02B with tied embeddings
    est = estimate(QWEN3_4B, batch=2, seq=1024)          # the profile's set-up
    assert est["total"] <= 10 * GIB
    assert 0.5e6 < est["n_trainable"] < 40e6             # LoRA r=16 on seven projections: ~33M
    assert 0.515 < nf4_bytes_per_weight() < 0.52


def test_monotone_in_batch_and_seq():
    totals = [estimate(QWEN3_4B, batch=b, seq=s)["total"] for b, s in [(1, 512), (2, 512), (2, 1024), (4, 1024)]]
    assert totals == sorted(totals) and len(set(totals)) == len(totals)
    acts = [estimate(QWEN3_4B, batch=2, seq=s, gradient_checkpointing=False)["activations"] for s in (256, 512, 1024)]
    assert acts == sorted(acts)


def test_checkpointing_and_quantization_reduce():
    with_ckpt = estimate(QWEN3_4B, gradient_checkpointing=True)
    without = estimate(QWEN3_4B, gradient_checkpointing=False)
    assert with_ckpt["activations"] < without["activations"] / 5
    four = estimate(QWEN3_4B, quantize_4bit=True)
    bf16 = estimate(QWEN3_4B, quantize_4bit=False)
    assert four["weights"] < bf16["weights"] / 2 and four["total"] < bf16["total"]
    adam = estimate(QWEN3_4B, optim="adamw_torch")
    assert four["optimizer_state"] < adam["optimizer_state"]


def test_cli_prints_estimate(capsys):
    from nbhelpers.cli import main

    assert main(["memory", "--profile", "qwen3-4b-thinking", "--batch", "2", "--seq", "1024"]) == 0
    out = capsys.readouterr().out
    assert "ESTIMATE" in out and "4-bit" in out
