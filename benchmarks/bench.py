"""Speed benchmarks (`make bench`): printed and written to results/bench.json.

Each workload runs in ROUNDS paired rounds (every round runs every workload once, in the same
order, so a busy moment slows all of them alike) and the median is reported, with the
machine's load average before and after, the CPU count, the BLAS threads and numba's threads.
Whole-process timings (`costmodel ...` as a user types it) run in a fresh interpreter.

- default_run_10k_s: `costmodel run inputs/msc_covid19.xlsx --psa-samples 10000` (everything
  the default workbook enables: DSA, thresholds, scenarios, PSA, EVPPI, EVSI, prices, reports).
- make_run_s: `costmodel run inputs/msc_covid19.xlsx` as `make run` does (1,000 samples).
- small_model_s: `costmodel run inputs/examples/chancellor_hiv.xlsx --psa-samples 0`.
- icers_s: `costmodel icers` of a 6-row table.
- engine_vs_numpy_ratio_hiv_10k: a 10,000-sample model run of the Chancellor HIV workbook
  (expressions, checks, rewards) against the faster of two hand-written batched NumPy
  implementations of the same model (matmul and einsum), on the same draws, results asserted
  equal to 1e-10.
- psa_1m_s, psa_1m_peak_mb: a 1,000,000-sample PSA of the default workbook, measured directly
  (psa_1m_measured: true) in a fresh process; peak resident memory from getrusage, of the
  process and (psa_1m_helper_peak_mb) of its forked PSA helper, which shares the result
  arrays with it (the sum is an upper bound of the memory used). It takes
  minutes, so it runs PSA_1M_ROUNDS times (default 1; the rounds are recorded).

Environment: BENCH_ROUNDS (default 5), BENCH_PSA_1M_ROUNDS (default 1), BENCH_SKIP_1M=1 skips
the 1M PSA (its previous figures in bench.json are kept).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from costmodel.model import run_model
from costmodel.parameters import evaluate_parameters
from costmodel.validate import load_inputs

ROOT = Path(__file__).resolve().parents[1]
HIV = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
DEFAULT = ROOT / "inputs" / "msc_covid19.xlsx"
N_SAMPLES = 10_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PSA_1M_ROUNDS = int(os.environ.get("BENCH_PSA_1M_ROUNDS", "1"))


# --- HIV engine against hand-written NumPy ---------------------------------------------------


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


def _hiv_matrices(values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    n = values["p_ab"].shape[0]
    base = np.zeros((n, 4, 4))
    base[:, 0, 1], base[:, 0, 2], base[:, 0, 3] = values["p_ab"], values["p_ac"], values["p_ad"]
    base[:, 1, 2], base[:, 1, 3] = values["p_bc"], values["p_bd"]
    base[:, 2, 3] = values["p_cd"]
    combo = base * values["rr_combination"][:, None, None]
    for P in (base, combo):
        P[:, [0, 1, 2], [0, 1, 2]] = 1.0 - P[:, :3].sum(axis=2)
        P[:, 3, 3] = 1.0
    return base, combo


def numpy_reference(values: dict[str, np.ndarray], step: str) -> tuple[np.ndarray, np.ndarray]:
    """Hand-written batched HIV model (``step``: "matmul" or "einsum"): costs and LYs (n, 2)
    for monotherapy and combination, 20 yearly cycles, 6% discounting, end-of-cycle counting."""
    n = values["p_ab"].shape[0]
    base, combo = _hiv_matrices(values)
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
        x = np.zeros((n, 4))
        x[:, 0] = 1.0
        for t in range(1, 21):
            P = combo if (s == 1 and t <= 2) else base
            x = (
                np.matmul(x[:, None, :], P)[:, 0]
                if step == "matmul"
                else np.einsum("bk,bkj->bj", x, P)
            )
            drug = values["c_zidovudine"] + (values["c_lamivudine"] if s == 1 and t <= 2 else 0)
            costs[:, s] += ((x * state_cost).sum(axis=1) + x[:, :3].sum(axis=1) * drug) / 1.06**t
            lys[:, s] += x @ alive
    return costs, lys


# --- Workloads -------------------------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cli(*args: str) -> Callable[[], object]:
    """`costmodel ARGS` in a fresh interpreter, as a user runs it."""

    def run() -> None:
        subprocess.run(
            [sys.executable, "-m", "costmodel.cli", *args],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )

    return run


def workloads(tmp: Path) -> dict[str, Callable[[], object]]:
    hiv = load_inputs(HIV)
    values = evaluate_parameters(hiv, sample_hiv_parameters(N_SAMPLES, 1), N_SAMPLES)
    outcomes = run_model(hiv, values)
    for step in ("matmul", "einsum"):  # same draws, same numbers
        ref_cost, ref_ly = numpy_reference(values, step)
        np.testing.assert_allclose(outcomes.cost, ref_cost, rtol=1e-10)
        np.testing.assert_allclose(outcomes.ly, ref_ly, rtol=1e-10)
    table = tmp / "six.csv"
    table.write_text(
        "strategy,cost,effect\nA,1000,1.0\nB,2000,1.5\nC,2500,1.4\nD,4000,2.0\nE,9000,2.2\n"
        "F,12000,2.6\n"
    )
    return {
        "engine_hiv_10k_s": lambda: run_model(hiv, values),
        "numpy_matmul_hiv_10k_s": lambda: numpy_reference(values, "matmul"),
        "numpy_einsum_hiv_10k_s": lambda: numpy_reference(values, "einsum"),
        "icers_s": _cli("icers", str(table)),
        "small_model_s": _cli(
            "run", str(HIV), "--psa-samples", "0", "--out", str(tmp / "hiv"), "-q"
        ),
        "make_run_s": _cli("run", str(DEFAULT), "--out", str(tmp / "default"), "-q"),
        "default_run_10k_s": _cli(
            "run", str(DEFAULT), "--psa-samples", str(N_SAMPLES), "--out", str(tmp / "10k"), "-q"
        ),
    }


PSA_CODE = """
import json, resource, time
from costmodel.validate import load_inputs
from costmodel.analyses.psa import run_psa
inputs = load_inputs({path!r}).decision_inputs()
start = time.perf_counter()
run_psa(inputs, {n}, 1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
helper = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak, "helper_peak_mb": helper}}))
"""


def bench_psa_1m() -> dict[str, object]:
    """The PSA of the default workbook's decision strategies, 1,000,000 samples, measured."""
    runs = []
    for _ in range(PSA_1M_ROUNDS):
        out = subprocess.run(
            [sys.executable, "-c", PSA_CODE.format(path=str(DEFAULT), n=1_000_000)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "psa_1m_s": statistics.median(r["seconds"] for r in runs),
        "psa_1m_peak_mb": max(r["peak_mb"] for r in runs),
        # the forked PSA helper's own peak (it shares the result arrays with this process:
        # the two peaks added are an upper bound of the memory the PSA took)
        "psa_1m_helper_peak_mb": max(r["helper_peak_mb"] for r in runs),
        "psa_1m_measured": True,
        "psa_1m_rounds": len(runs),
    }


def machine() -> dict[str, object]:
    import numba
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return {
        "cores": len(os.sched_getaffinity(0)),
        "blas": ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in blas),
        "numba_threads": numba.get_num_threads(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }


def main() -> int:
    results: dict[str, object] = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    results.update(machine())
    results["load_before"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        jobs = workloads(Path(tmp))
        for fn in jobs.values():  # warm-up: compiled kernel cache, file cache
            fn()
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(ROUNDS):
            for name, fn in jobs.items():
                times[name].append(_timed(fn))
    for name, values in times.items():
        results[name] = statistics.median(values)
        results[f"{name}_range"] = [min(values), max(values)]
    results["rounds"] = ROUNDS
    # the ratio of medians, and its spread over the paired rounds
    fastest = [
        min(a, b)
        for a, b in zip(
            times["numpy_matmul_hiv_10k_s"], times["numpy_einsum_hiv_10k_s"], strict=True
        )
    ]
    ratios = [e / f for e, f in zip(times["engine_hiv_10k_s"], fastest, strict=True)]
    results["engine_vs_numpy_ratio_hiv_10k"] = statistics.median(ratios)
    results["engine_vs_numpy_ratio_hiv_10k_range"] = [min(ratios), max(ratios)]
    if os.environ.get("BENCH_SKIP_1M") != "1":
        results.update(bench_psa_1m())
    results["load_after"] = os.getloadavg()[0]
    for key, value in results.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    out = ROOT / "results" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(results)
    tmp_file = out.with_suffix(".json.tmp")
    tmp_file.write_text(json.dumps(previous, indent=2) + "\n")
    os.replace(tmp_file, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
