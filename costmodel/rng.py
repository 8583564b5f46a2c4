"""The one place that hands out random streams, keyed by purpose.

Every stream is ``SeedSequence(seed, spawn_key=key)``; the key says what the bits are for, so
no two analyses ever draw the same bits and a result does not depend on which other analyses
ran, in which order, or on how samples were chunked:

- PSA sample block ``b``: key ``(b,)`` (length 1; kept from the first release so PSA draws
  are unchanged);
- every other purpose: key ``(purpose, index)`` (length 2), e.g. ``(Purpose.EVSI_TRIAL, n)``
  for the simulated trial with ``n`` patients per arm.

Keys of different lengths never coincide, and length-2 keys differ in their purpose code, so
the key spaces are disjoint by construction (tests/test_rng.py checks it, bits included).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

SeedLike = int | np.random.Generator | None

#: Seed of the value-of-information regressions' own draws (GP subset, posterior draws): a
#: fixed constant, so EVPPI is a deterministic function of the PSA sample it is given.
METHOD_SEED = 20140311


class Purpose(IntEnum):
    """What a stream's bits are used for (the first element of a length-2 spawn key)."""

    EVSI_TRIAL = 1  # simulated future trial, index = patients per arm
    GP_SUBSET = 2  # EVPPI Gaussian-process training subset (with METHOD_SEED)
    GP_DRAWS = 3  # EVPPI Gaussian-process posterior draws (with METHOD_SEED)
    SPLINE_DRAWS = 4  # EVPPI spline posterior draws (with METHOD_SEED)


def normalize_seed(seed: SeedLike) -> int:
    """An int seed from an int, a Generator (one draw from it) or None (fresh entropy).

    The returned int is what a run records, so the run can be repeated from it.
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, a numpy Generator or None; got {seed!r}")
    return int(seed)


def psa_block_key(block: int) -> tuple[int]:
    """Spawn key of PSA sample block ``block`` (samples block*size ... (block+1)*size-1)."""
    return (int(block),)


def purpose_key(purpose: Purpose, index: int = 0) -> tuple[int, int]:
    """Spawn key of stream ``index`` of ``purpose``."""
    return (int(purpose), int(index))


def psa_block_stream(seed: int, block: int) -> np.random.Generator:
    """Generator of PSA sample block ``block``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=psa_block_key(block)))


def stream(seed: int, purpose: Purpose, index: int = 0) -> np.random.Generator:
    """Generator of stream ``index`` of ``purpose``."""
    key = purpose_key(purpose, index)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def method_stream(purpose: Purpose) -> np.random.Generator:
    """Generator of a decision method's own draws: seeded by METHOD_SEED, not the run's seed,
    with a purpose key, so they never meet a PSA block even when a user picks METHOD_SEED."""
    return stream(METHOD_SEED, purpose, 0)
