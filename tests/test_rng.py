"""Random streams are keyed by purpose, so no two analyses ever draw the same bits (the first
release keyed PSA block b and the EVSI trial of b patients per arm on the same (seed, b))."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.rng import (
    Purpose,
    normalize_seed,
    psa_block_key,
    psa_block_stream,
    purpose_key,
    stream,
)


def test_psa_and_evsi_keys_are_disjoint():
    psa_keys = {psa_block_key(b) for b in range(5_000)}  # 10 million samples
    evsi_keys = {purpose_key(Purpose.EVSI_TRIAL, n) for n in range(1, 5_000)}
    other_keys = {purpose_key(p, 0) for p in Purpose}
    assert psa_keys.isdisjoint(evsi_keys)
    assert psa_keys.isdisjoint(other_keys)
    assert len(other_keys) == len(Purpose)


@pytest.mark.parametrize("n", [50, 100, 400, 3200])
def test_psa_block_n_and_evsi_trial_n_draw_different_bits(n):
    """The collision the first release had: same seed, index n, two purposes."""
    seed = 12345
    psa_bits = psa_block_stream(seed, n).integers(0, 2**63, 8)
    evsi_bits = stream(seed, Purpose.EVSI_TRIAL, n).integers(0, 2**63, 8)
    assert not np.array_equal(psa_bits, evsi_bits)


def test_psa_block_stream_is_the_first_release_stream():
    """PSA draws are unchanged from the first release: SeedSequence(seed, spawn_key=(b,))."""
    legacy = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(3,)))
    assert np.array_equal(psa_block_stream(7, 3).random(5), legacy.random(5))


def test_same_seed_same_stream_and_seed_zero_is_a_seed():
    a = stream(0, Purpose.EVSI_TRIAL, 10).random(3)
    b = stream(0, Purpose.EVSI_TRIAL, 10).random(3)
    c = stream(1, Purpose.EVSI_TRIAL, 10).random(3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert normalize_seed(0) == 0


def test_normalize_seed_accepts_int_generator_or_none():
    assert normalize_seed(42) == 42
    assert normalize_seed(np.int64(5)) == 5
    drawn = normalize_seed(np.random.default_rng(1))
    assert drawn == normalize_seed(np.random.default_rng(1))  # a seeded generator is reproducible
    assert isinstance(normalize_seed(None), int)
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed must be"):
            normalize_seed(bad)
