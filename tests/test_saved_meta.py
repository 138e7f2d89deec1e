"""Saved model folders carry a metadata version: old folders load, newer ones are refused clearly."""
import json

import pytest

from nbhelpers.modeling import META_VERSION, read_meta
from nbhelpers.paths import META_FILE
from nbhelpers.profiles import get_profile, profile_from_dict


def test_profile_from_an_older_or_newer_folder():
    saved = get_profile("tiny").to_dict()
    del saved["warmup_own_steps"]                 # a folder written before this field existed
    assert profile_from_dict(saved).warmup_own_steps == 0
    saved["renamed_field"] = 1                    # a field this version does not know
    with pytest.warns(UserWarning, match="renamed_field"):
        assert profile_from_dict(saved).name == "tiny"


def test_metadata_version(tmp_path):
    (tmp_path / META_FILE).write_text(json.dumps({"profile": get_profile("tiny").to_dict()}))
    assert read_meta(tmp_path)["profile"]["name"] == "tiny"          # version 1: no field, still read
    (tmp_path / META_FILE).write_text(json.dumps({"meta_version": META_VERSION + 1, "profile": {}}))
    with pytest.raises(ValueError, match="newer nbhelpers"):
        read_meta(tmp_path)


def test_a_folder_with_the_old_likelihood_verifier_is_refused_with_a_reason(tmp_path):
    old = {"meta_version": 2, "profile": get_profile("tiny").to_dict(),
           "verifier": {"head_weight": 1.35, "lm_weight": 4.6, "fitted_on_pairs": 512}}
    (tmp_path / META_FILE).write_text(json.dumps(old))
    with pytest.raises(ValueError, match="mean log-likelihood.*train it again"):
        read_meta(tmp_path)
