"""Score prompts/responses with a saved reward-model folder and print the rewards as one JSON list.

Run by tests/test_model_train_score.py::test_save_reload_in_fresh_process_gives_identical_rewards:
in a fresh process nothing of the training run is left in memory, so the rewards come from the
saved folder alone.

Usage: python score_folder.py MODEL_FOLDER INPUT_JSON   (INPUT_JSON: {"p": [prompts], "r": [responses]})
"""
import json
import sys

from nbhelpers.scoring import RewardScorer

scorer = RewardScorer.from_folder(sys.argv[1])
with open(sys.argv[2]) as f:
    data = json.load(f)
print(json.dumps(scorer.score_batch(data["p"], data["r"])))
