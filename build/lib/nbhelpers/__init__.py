"""nbhelpers: the plumbing behind the reward-model notebooks (setup, data, training, scoring, GRPO)."""
from .setup import setup, shutdown_kernel

__all__ = ["setup", "shutdown_kernel"]
