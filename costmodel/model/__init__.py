"""The model stage: phases expanded, expressions assembled into arrays, checked, run.

``run_model(inputs, parameters)`` is the one entry point; the outcome types it returns live in
:mod:`costmodel.outcomes`.
"""

from costmodel.model.run import (
    CHUNK_BYTES,
    entry_shares,
    numpy_engine,
    run_model,
    start_cost_totals,
    use_compiled,
)
from costmodel.outcomes import ModelOutcomes
from costmodel.phases import ExpandedPhase, expand_phases

__all__ = [
    "CHUNK_BYTES",
    "ExpandedPhase",
    "ModelOutcomes",
    "entry_shares",
    "expand_phases",
    "numpy_engine",
    "run_model",
    "start_cost_totals",
    "use_compiled",
]
