"""Every accelerate config in configs/ parses and has what `accelerate launch` needs; every
`accelerate launch` command in README.md names an existing config and `-m nbhelpers train`."""
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
REQUIRED = {"compute_environment", "distributed_type", "num_processes", "num_machines", "machine_rank",
            "mixed_precision", "use_cpu"}
TYPES = {"NO", "MULTI_GPU", "MULTI_CPU", "DEEPSPEED", "FSDP"}


def test_expected_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {"single_gpu.yaml", "multi_gpu_ddp.yaml", "deepspeed_zero2.yaml", "deepspeed_zero3.yaml",
            "cpu_2proc.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_keys(path):
    cfg = yaml.safe_load(path.read_text())
    assert REQUIRED <= set(cfg), REQUIRED - set(cfg)
    assert cfg["compute_environment"] == "LOCAL_MACHINE"
    assert cfg["distributed_type"] in TYPES
    assert isinstance(cfg["num_processes"], int) and cfg["num_processes"] >= 1
    assert cfg["mixed_precision"] in ("no", "fp16", "bf16")
    if cfg["distributed_type"] == "NO":
        assert cfg["num_processes"] == 1
    else:
        assert cfg["num_processes"] >= 2
    if cfg["distributed_type"] == "DEEPSPEED":
        assert cfg["deepspeed_config"]["zero_stage"] in (2, 3)
    # accelerate itself can read it
    from accelerate.commands.config.config_args import load_config_from_file
    loaded = load_config_from_file(str(path))
    assert loaded.num_processes == cfg["num_processes"]


def _launch_commands():
    text = (ROOT / "README.md").read_text()
    text = text.replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if re.search(r"\baccelerate launch\b", line)
            and "`accelerate launch" not in line]


def test_readme_launch_commands():
    commands = _launch_commands()
    assert len(commands) >= 3
    for cmd in commands:
        args = shlex.split(cmd.split("#")[0])
        i = args.index("launch")
        assert "--config_file" in args, cmd
        config = args[args.index("--config_file") + 1]
        assert (ROOT / config).is_file(), f"{cmd}: {config} does not exist"
        assert args[i:].count("-m") == 1 and args[args.index("-m") + 1:args.index("-m") + 3] == ["nbhelpers", "train"], cmd
