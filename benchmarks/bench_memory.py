"""Check the memory formula of nbhelpers/memory.py on CPU, where memory can be measured.

For a few scaled-down random Qwen3 sequence-classification models (float32, CPU), each case
runs in a fresh subprocess: build the model (+ LoRA, + AdamW), reset the peak-RSS counter
(/proc/self/clear_refs), run ONE training step (forward of batch x seq tokens, pairwise loss,
backward, optimizer.step) and read the peak RSS (VmHWM) minus the RSS before the step. The
prediction is the same formula's gradients + activations (weights and the AdamW state, created
by a warm-up step on 8 tokens, are in the baseline), with compute dtype float32 (4 bytes).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_memory.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SIZES = {   # scaled-down Qwen3 shapes (head_dim 64, GQA 2:1 like 32:8 at scale); small vocab (random ids)
    "h256-L4": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                    head_dim=64, intermediate_size=768, vocab_size=4096),
    "h512-L4": dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4,
                    head_dim=64, intermediate_size=1536, vocab_size=4096),
    "h512-L8": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4,
                    head_dim=64, intermediate_size=1536, vocab_size=4096),
}


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def child(case: dict) -> dict:
    import gc

    import torch
    import torch.nn.functional as F
    from transformers import Qwen3Config, Qwen3ForSequenceClassification

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = Qwen3Config(**case["config"], tie_word_embeddings=True, num_labels=1, pad_token_id=0,
                         max_position_embeddings=4096)
    config._attn_implementation = "sdpa"
    model = Qwen3ForSequenceClassification(config)
    if case["lora"]:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=16, lora_alpha=16, lora_dropout=0.0,
                                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                 "gate_proj", "up_proj", "down_proj"]))
    if case["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if case["lora"]:
            model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    def step(ids):
        rewards = model(input_ids=ids).logits.squeeze(-1)
        loss = -F.logsigmoid(rewards[0::2] - rewards[1::2]).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # warm-up step on 8 tokens: lazy initialisation (kernels, autograd engine, AdamW state) lands
    # in the baseline, so the measured step holds gradients + activations (+ transients)
    step(torch.randint(1, config.vocab_size, (case["batch"], 8)))
    ids = torch.randint(1, config.vocab_size, (case["batch"], case["seq"]))
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")          # reset the peak-RSS counter (VmHWM) to the current RSS
    before = _status("VmRSS")
    rewards = model(input_ids=ids).logits.squeeze(-1)
    loss = -F.logsigmoid(rewards[0::2] - rewards[1::2]).mean()
    loss.backward()
    optimizer.step()
    peak = _status("VmHWM")
    return {"measured": peak - before}


def predict(case: dict) -> float:
    from nbhelpers.memory import estimate

    parts = estimate(dict(case["config"], tie_word_embeddings=True), batch=case["batch"], seq=case["seq"],
                     quantize_4bit=False, lora_r=16 if case["lora"] else None,
                     gradient_checkpointing=case["checkpointing"], optim="adamw_torch", compute_bytes=4)
    return parts["gradients"] + parts["activations"]   # weights and AdamW state are in the baseline


def run(case: dict) -> dict:
    # fixed mmap threshold: every large tensor is its own mapping, returned to the OS when freed,
    # so peak RSS follows the live tensors instead of glibc heap growth
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(case)], capture_output=True, text=True,
                         env=env, check=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])["measured"]
    predicted = predict(case)
    return {**case, "measured": measured, "predicted": predicted, "rel_error": (predicted - measured) / measured}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    cases = []
    sizes = ["h256-L4"] if args.quick else list(SIZES)
    for size in sizes:
        for lora in (False, True):
            for ckpt in (False, True):
                cases.append({"size": size, "config": SIZES[size], "lora": lora, "checkpointing": ckpt,
                              "batch": 2, "seq": 1024})
    rows = []
    print("| model | training | checkpointing | batch x seq | measured MiB | predicted MiB | rel. error |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        row = run(case)
        rows.append(row)
        print(f"| {row['size']} | {'LoRA r=16' if row['lora'] else 'full fp32'} | {'yes' if row['checkpointing'] else 'no'} "
              f"| {row['batch']} x {row['seq']} | {row['measured'] / 2**20:.0f} | {row['predicted'] / 2**20:.0f} "
              f"| {row['rel_error']:+.0%} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
