"""Speed benchmarks (`make bench`): printed and written to results/bench.json.

engine_vs_numpy_ratio_hiv_10k: a 10,000-sample run of the Chancellor HIV workbook through the
engine (expressions, checks, rewards) against the hand-written batched NumPy implementation of
the same model below, in the same process, on the same sampled parameters. Goal: <= 1.5.
default_run_10k_s: `costmodel run` of the default workbook with 10,000 PSA samples. Goal: 15 s.
psa_1m_s, psa_1m_peak_mb: a 1,000,000-sample PSA of the default workbook (measured with
BENCH_PSA_SAMPLES=1000000, else extrapolated from 100,000). Goals: 60 s, 1.5 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from costmodel.model import run_model
from costmodel.parameters import evaluate_parameters
from costmodel.validate import load_inputs as load_model

ROOT = Path(__file__).resolve().parents[1]
HIV = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
DEFAULT = ROOT / "inputs" / "msc_covid19.xlsx"
N_SAMPLES = 10_000
REPEATS = 5


def sample_hiv_parameters(n: int, seed: int) -> dict[str, np.ndarray]:
    """Dirichlet transition counts, lognormal relative risk, gamma costs (Briggs et al. ch. 4)."""
    rng = np.random.default_rng(seed)
    a = rng.dirichlet([1251, 350, 116, 17], size=n)
    b = rng.dirichlet([731, 512, 15], size=n)
    c = rng.dirichlet([1312, 437], size=n)
    scale = 1000.0
    overrides = {
        "n_aa": a[:, 0] * scale,
        "n_ab": a[:, 1] * scale,
        "n_ac": a[:, 2] * scale,
        "n_ad": a[:, 3] * scale,
        "n_bb": b[:, 0] * scale,
        "n_bc": b[:, 1] * scale,
        "n_bd": b[:, 2] * scale,
        "n_cc": c[:, 0] * scale,
        "n_cd": c[:, 1] * scale,
        "rr_combination": np.exp(rng.normal(np.log(0.509), 0.08, n)),
    }
    for name, mean in (("c_dmed_a", 1701), ("c_dmed_b", 1774), ("c_dmed_c", 6948)):
        overrides[name] = rng.gamma(100.0, mean / 100.0, n)
    return overrides


def numpy_reference(values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Hand-written batched HIV model: costs and LYs (n, 2) for mono and combination."""
    n = values["p_ab"].shape[0]
    base = np.zeros((n, 4, 4))
    base[:, 0, 1], base[:, 0, 2], base[:, 0, 3] = values["p_ab"], values["p_ac"], values["p_ad"]
    base[:, 1, 2], base[:, 1, 3] = values["p_bc"], values["p_bd"]
    base[:, 2, 3] = values["p_cd"]
    combo = base * values["rr_combination"][:, None, None]
    for P in (base, combo):
        P[:, [0, 1, 2], [0, 1, 2]] = 1.0 - P[:, :3].sum(axis=2)
        P[:, 3, 3] = 1.0
    state_cost = np.stack(
        [
            values["c_dmed_a"] + values["c_ccare_a"],
            values["c_dmed_b"] + values["c_ccare_b"],
            values["c_dmed_c"] + values["c_ccare_c"],
            np.zeros(n),
        ],
        axis=1,
    )
    alive = np.array([1.0, 1.0, 1.0, 0.0])
    costs, lys = np.zeros((n, 2)), np.zeros((n, 2))
    for s in range(2):
        x = np.zeros((n, 1, 4))
        x[:, 0, 0] = 1.0
        for t in range(1, 21):
            P = combo if (s == 1 and t <= 2) else base
            x = x @ P
            drug = values["c_zidovudine"] + (values["c_lamivudine"] if s == 1 and t <= 2 else 0)
            occupancy = x[:, 0]
            costs[:, s] += (
                (occupancy * state_cost).sum(axis=1) + occupancy[:, :3].sum(axis=1) * drug
            ) / 1.06**t
            lys[:, s] += occupancy @ alive
    return costs, lys


def best_time(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_hiv() -> dict[str, float]:
    inputs = load_model(HIV)
    values = evaluate_parameters(inputs, sample_hiv_parameters(N_SAMPLES, 1), N_SAMPLES)
    outcomes = run_model(inputs, values)
    ref_cost, ref_ly = numpy_reference(values)
    np.testing.assert_allclose(outcomes.cost, ref_cost, rtol=1e-10)
    np.testing.assert_allclose(outcomes.ly, ref_ly, rtol=1e-10)
    engine_s = best_time(lambda: run_model(inputs, values))
    numpy_s = best_time(lambda: numpy_reference(values))
    return {
        "engine_hiv_10k_s": engine_s,
        "numpy_hiv_10k_s": numpy_s,
        "engine_vs_numpy_ratio_hiv_10k": engine_s / numpy_s,
    }


def _subprocess_json(code: str) -> dict:
    """Run Python code in a fresh interpreter (clean peak-memory reading); it prints JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_default_run(n_samples: int = 10_000) -> dict[str, float]:
    """`costmodel run` of the default workbook: base case, all DSA, scenarios, thresholds,
    PSA with n_samples, EVPI and every table and figure."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "costmodel.cli",
                "run",
                str(DEFAULT),
                "--psa-samples",
                str(n_samples),
                "--out",
                str(Path(tmp) / "out"),
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        return {"default_run_10k_s": time.perf_counter() - start}


PSA_CODE = """
import json, resource, time
from costmodel.validate import load_inputs as load_model
from costmodel.analyses.psa import run_psa
inputs = load_model({path!r})
start = time.perf_counter()
run_psa(inputs, {n}, 1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak}}))
"""


def bench_large_psa(n_samples: int) -> dict[str, object]:
    """PSA of the default workbook with n_samples; a 1,000,000-sample figure is extrapolated
    linearly when n_samples is smaller (memory is bounded by chunking; only the per-sample
    outputs grow, 1M x strategies x 3 arrays x 8 bytes)."""
    result = _subprocess_json(PSA_CODE.format(path=str(DEFAULT), n=n_samples))
    factor = 1_000_000 / n_samples
    outputs_mb = 1_000_000 * 5 * 3 * 8 / 2**20 * (1 - 1 / factor)
    return {
        "psa_1m_s": result["seconds"] * factor,
        "psa_1m_peak_mb": result["peak_mb"] + outputs_mb,
        "psa_1m_method": "measured" if factor == 1 else f"extrapolated from {n_samples} samples",
    }


def main() -> int:
    large = int(os.environ.get("BENCH_PSA_SAMPLES", "100000"))
    results: dict[str, object] = {"cores": os.cpu_count()}
    results.update(bench_hiv())
    results.update(bench_default_run())
    results.update(bench_large_psa(large))
    for key, value in results.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    out = ROOT / "results" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(results)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(previous, indent=2) + "\n")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
