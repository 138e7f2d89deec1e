"""Train the tiny profile on make_pairs(16) for 3 steps (seed 0) and print the rewards of the
chosen responses as one JSON list.

Run twice by tests/test_model_train_score.py::test_training_is_deterministic_across_processes:
each run is a fresh process, so identical output means training does not depend on state left
over in the process (RNGs, caches).

Usage: python train_and_score.py CHECKPOINT_DIR
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/, for helpers

from helpers import make_pairs  # noqa: E402
from nbhelpers.profiles import get_profile  # noqa: E402
from nbhelpers.scoring import RewardScorer  # noqa: E402
from nbhelpers.setup import seed_everything  # noqa: E402
from nbhelpers.training import train_reward_model  # noqa: E402

seed_everything(0)
pairs = make_pairs(16)
result = train_reward_model(pairs, profile=get_profile("tiny", warmup_lm_steps=0, max_length=128),
                            max_steps=3, checkpoint_dir=sys.argv[1])
scorer = RewardScorer(result.model, result.tokenizer, result.meta)
print(json.dumps(scorer.score_batch([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])))
