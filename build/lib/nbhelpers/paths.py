"""Project folders, so notebooks and the CLI find data and outputs from any working directory."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
TRAIN_FILE = DATA_DIR / "thinking_prefs" / "train.jsonl"
TEST_FILE = DATA_DIR / "thinking_prefs" / "test.jsonl"
TEST_RANGE_FILE = DATA_DIR / "thinking_prefs" / "test_range.jsonl"
OUTPUTS_DIR = ROOT / "outputs"
MODEL_DIR = OUTPUTS_DIR / "reward-model"   # written by notebook 02, read by 03 and 04
META_FILE = "nbhelpers.json"                # in a saved reward-model folder: profile, history, verifier, normalizer
