import pytest

from helpers import make_pairs
from nbhelpers.profiles import get_profile


@pytest.fixture(scope="session")
def tiny_profile():
    """The tiny profile without LM warm-up: a random body built in seconds (same code path)."""
    return get_profile("tiny", warmup_lm_steps=0, max_length=128)


@pytest.fixture
def pairs():
    return make_pairs()
