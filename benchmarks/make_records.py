"""Make the stored paper-profile records the book shows, in short GPU windows.

A 50-epoch search does not fit one 10-minute GPU window, so every run writes its
checkpoint each epoch under ``--runs`` and this script resumes it next time. Within a
window it stops at an epoch boundary when the next epoch would not finish before
``--minutes`` (estimated from the last epoch), so no epoch is lost. A run that completes
has its record copied, unchanged (checksum and all), to ``--book`` (`book/records/`); a
paused run's record goes there too, as a partial record the book shows as "k of N epochs"
(the issue's "store the longest run that fits and say so"). A partial record whose
checkpoint is not under ``--runs`` (not carried) cannot be resumed: its run starts again and
replaces it once it has more epochs.

    python benchmarks/make_records.py --plan ch02 --minutes 8 --dataset cifar10-jpeg
    python benchmarks/make_records.py --list

Carry ``runs/`` (checkpoints) and the data folder to the next window to go on.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import nas_kit  # noqa: E402
from nas_kit.records import load_record  # noqa: E402
from nas_kit.search import NonFiniteError  # noqa: E402

# The plans (which records each chapter needs) live in nas_kit.stored, shared with the book.
from nas_kit.stored import PLANS, run_spec as _run  # noqa: E402,F401  (_run: for callers)


def graphs_overrides(spec, profile: str, device) -> dict:
    """{'cuda_graphs': True} when the run's config can replay CUDA graphs, else
    {'cuda_graphs': False}."""
    from nas_kit.graphs import check_graphable
    cfg = nas_kit.resolve_config(spec["method"], spec["space"], "cifar10", profile=profile,
                                 cuda_graphs=True, **spec["overrides"])
    try:
        check_graphable(cfg, torch.device(device or "cuda"))
    except ValueError:
        return {"cuda_graphs": False}
    return {"cuda_graphs": True}


from nas_kit.profiling import (compile_verified, replay_limits,  # noqa: E402  (shared with the appendix)
                               replay_verified)


def _working_rows(benchmark: dict, method: str, space: str) -> dict[str, dict]:
    """{engine: row} of the benchmark's rows for `method` in `space` that did not fail."""
    return {r.get("path"): r for r in benchmark.get("rows", [])
            if (r.get("method"), r.get("space")) == (method, space) and "error" not in r}


def read_rows(files) -> dict:
    """One benchmark of the rows of several search_speed.py files (missing files skipped)."""
    return {"rows": [r for f in files if f.exists() for r in json.loads(f.read_text())["rows"]]}


def graphs_verified(benchmark: dict) -> tuple[dict, dict]:
    """What a GPU speed benchmark (search_speed.py JSON) showed about CUDA graphs, per
    (method, space): ``(verified, failed)``, each {(method, space): why}. Verified: the
    replayed step matched the eager one (within `replay_limits`) and beat the fused
    engine alone. Rows refused by design (CPU, skip noise) are neither."""
    verified, failed = {}, {}
    for r in benchmark.get("rows", []):
        if r.get("path") != "graphs" or "needs a CUDA device" in r.get("error", "") \
                or "not available with" in r.get("error", ""):
            continue
        key = (r["method"], r["space"])
        if "error" in r or "replay_error" in r:
            failed[key] = r.get("error") or f"replay check failed: {r['replay_error']}"
            continue
        bad = [f"{k} = {r.get(k)} > {tol:g}" for k, tol in replay_limits(r).items()
               if not r.get(k, float("inf")) <= tol]
        fused = _working_rows(benchmark, *key).get("fused")
        if fused is None or not r["ms_per_step"] < fused["ms_per_step"]:
            bad.append("not faster than the fused engine")
        if bad:
            failed[key] = "; ".join(bad)
        else:
            verified[key] = (f"replay matches eager, {fused['ms_per_step'] / r['ms_per_step']:.1f}x "
                             "faster than fused")
    return verified, failed


def graphs_for(spec, verified: dict, failed: dict, noise_verified: dict | None = None) -> bool:
    """Use CUDA graphs for `spec`: its own (method, space) was verified, or it was not
    benchmarked, is first order, and first-order DARTS in its space was (the same machinery;
    second order captures another pass, so it needs its own row). A skip-noise run only where
    a skip-noise benchmark (`search_speed.py --skip-noise`) verified its method and space:
    its passes draw random numbers inside the graph, which no other row checks."""
    key = (spec["method"], spec["space"])
    if spec["overrides"].get("skip_noise", 0) > 0:
        return key in (noise_verified or {})
    if key in verified:
        return True
    order = nas_kit.resolve_config(spec["method"], spec["space"], "cifar10",
                                   **spec["overrides"]).order
    return order == 1 and key not in failed and ("darts", spec["space"]) in verified


def engine_for(spec, benchmark: dict | None) -> dict:
    """{'engine': 'eager'} when the GPU benchmark saw the fused engine fail for the run's
    method and space (or, not benchmarked, for DARTS in its space) while eager worked; else {}
    (the default engine). A window is too short to lose to one engine's bug."""
    if not benchmark:
        return {}
    rows = benchmark.get("rows", [])

    def status(method, space):
        by = {r["path"]: "error" not in r for r in rows if (r["method"], r["space"]) == (method, space)}
        return by.get("fused"), by.get("eager")
    fused_ok, eager_ok = status(spec["method"], spec["space"])
    if fused_ok is None:
        fused_ok, eager_ok = status("darts", spec["space"])
    return {"engine": "eager"} if fused_ok is False and eager_ok else {}


def layout_for(spec, benchmark: dict | None, graphs: bool) -> dict:
    """{'channels_last': True} when the GPU benchmark showed DARTS in the run's space faster
    with channels-last weights and batches on the engine the run will use (graphs: the
    `graphs-cl` row replay-verified and faster than `graphs`; else `fused-cl` faster than
    `fused`); else {}. Memory layout is how, not what: records may mix layouts."""
    if not benchmark:
        return {}
    rows = _working_rows(benchmark, "darts", spec["space"])
    plain, cl = ("graphs", "graphs-cl") if graphs else ("fused", "fused-cl")
    if plain not in rows or cl not in rows or (graphs and not replay_verified(rows[cl])):
        return {}
    return {"channels_last": True} if rows[cl]["ms_per_step"] < rows[plain]["ms_per_step"] else {}


def compile_for(spec, benchmark: dict | None, graphs: bool) -> dict:
    """{'compile': True} when the GPU benchmark showed DARTS in the run's space faster
    compiled (`torch.compile`) on the engine the run will use than without, in either memory
    layout (graphs: the `graphs-compiled` row, replay-verified; else `compiled` vs `fused`),
    with its first step matching eager's within COMPILE_TOLERANCE; else {}. Compiling is how,
    not what: records may mix it. Its compile time lands in the run's first epoch."""
    if not benchmark:
        return {}
    rows = _working_rows(benchmark, "darts", spec["space"])
    plain, comp = ("graphs", "graphs-compiled") if graphs else ("fused", "compiled")
    row = rows.get(comp)
    if plain not in rows or row is None or (graphs and not replay_verified(row)):
        return {}
    if not compile_verified(row, benchmark.get("rows", [])):
        return {}
    cl = rows.get(plain + "-cl")   # the channels-last rival, where it was measured (and verified)
    rivals = [rows[plain]] + ([cl] if cl is not None and (not graphs or replay_verified(cl)) else [])
    return {"compile": True} if all(row["ms_per_step"] < r["ms_per_step"] for r in rivals) else {}


def launch_headroom(benchmark: dict, space: str, cap: int = 3) -> int:
    """How many runs of `space` can share the GPU usefully: step time over GPU busy time of
    the engine the records will use for DARTS there (CUDA graphs if verified, else fused, else
    eager), floored, between 1 and `cap`. A launch-bound step leaves the GPU idle, and another
    process's kernels fill the gaps; a step that keeps the GPU busy gains nothing from company."""
    verified, _ = graphs_verified(benchmark)
    rows = _working_rows(benchmark, "darts", space)
    paths = (["graphs"] if ("darts", space) in verified else []) + ["fused", "eager"]
    row = next((rows[p] for p in paths if p in rows), None)
    if row is None or not row.get("gpu_busy_ms"):
        return 1
    return max(1, min(cap, int(row["ms_per_step"] / row["gpu_busy_ms"])))


def estimate_minutes(spec, benchmark: dict, profile: str = "paper") -> tuple[float, str] | None:
    """(projected GPU minutes of the whole run, engine) from the benchmark's step time of the
    run's method and space on the fastest engine records would use (CUDA graphs only where
    replay-verified), scaled by the run's epochs; None if that method and space were not
    benchmarked. Step time only: per-epoch evaluation and set-up come on top."""
    verified, _ = graphs_verified(benchmark)
    key = (spec["method"], spec["space"])
    rows = [r for r in benchmark.get("rows", []) if (r.get("method"), r.get("space")) == key
            and "error" not in r and r.get("projected_50_epoch_min") is not None
            and (not str(r.get("path")).startswith("graphs") or key in verified)]
    if not rows:
        return None
    best = min(rows, key=lambda r: r["projected_50_epoch_min"])
    epochs = nas_kit.resolve_config(spec["method"], spec["space"], "cifar10", profile=profile,
                                    **spec["overrides"]).epochs
    return best["projected_50_epoch_min"] * epochs / 50, best["path"]


def priority_order(plan: list[dict]) -> list[dict]:
    """The plan in the order a short window is best spent: NAS-Bench-201 before the DARTS
    space (a 50-epoch DARTS-space search rarely fits one window), second order last (no CUDA
    graphs, several times slower per step), each method's recipe (all seeds, seed 0 first)
    before the ablations (tagged runs), then plan order."""
    def key(item):
        i, spec = item
        tagged = spec["name"] != f"{spec['method']}-{spec['space']}-s{spec['seed']}"
        return (spec["space"] != "nb201", spec["method"] == "darts-2nd", tagged, spec["seed"], i)
    return [spec for _, spec in sorted(enumerate(plan), key=key)]


def cost_order(plan: list[dict], benchmark: dict, profile: str = "paper",
               runs: Path | None = None) -> list[dict]:
    """The plan with the runs a window can finish first: NAS-Bench-201 before the DARTS space,
    then by projected GPU minutes still to go (`estimate_minutes`, less the epochs a
    checkpoint under ``runs`` has done; not benchmarked: last), then as `priority_order`.
    A complete record is worth more than several partial ones."""
    ranked = priority_order(plan)

    def done_fraction(spec):
        folder = None if runs is None else runs / spec["name"]
        if folder is None or not (folder / "checkpoint.pt").exists() \
                or not (folder / "record.json").exists():
            return 0.0
        record = load_record(folder / "record.json")
        return len(record["history"]) / record["config"]["epochs"]

    def key(item):
        i, spec = item
        est = estimate_minutes(spec, benchmark, profile)
        left = float("inf") if est is None else est[0] * (1 - done_fraction(spec))
        return (spec["space"] != "nb201", left, i)
    return [spec for _, spec in sorted(enumerate(ranked), key=key)]


def advance(spec, *, dataset, runs: Path, book: Path, deadline: float, profile: str,
            device=None, cuda_graphs: bool = False, engine: dict | None = None,
            timing: dict | None = None) -> str:
    """Run `spec` from its checkpoint until done or the deadline; returns its state.

    cuda_graphs: replay CUDA graphs for the runs whose method allows them (a run may
    resume under another engine: how it is computed is not part of what is searched).
    timing: {"epoch_seconds": s} shared across calls: the last epoch's wall time, so that a
    run is not started when its first epoch (estimated from the previous run's) would end
    past the deadline; updated here.
    """
    timing = {} if timing is None else timing
    name = spec["name"]
    stored = load_record(book / f"{name}.json") if (book / f"{name}.json").exists() else None
    if stored is not None and stored.get("complete"):
        return "stored"
    # A stored partial record whose checkpoint was not carried cannot be resumed: the run
    # starts again, and replaces that record only once it has more epochs.
    kept = len(stored["history"]) if stored is not None \
        and not (runs / name / "checkpoint.pt").exists() else 0
    if torch.cuda.is_available():  # each record's peak memory is its own run's
        torch.cuda.reset_peak_memory_stats()
    book.mkdir(parents=True, exist_ok=True)
    # graphs only where asked (verified by the benchmark), not by the default on CUDA
    how = graphs_overrides(spec, profile, device) if cuda_graphs else {"cuda_graphs": False}
    run = nas_kit.prepare_search(spec["method"], spec["space"], dataset, profile=profile,
                                 seed=spec["seed"], out=runs / name, resume=True,
                                 device=device, progress=False, **spec["overrides"], **how,
                                 **(engine or {}))
    last = None
    while run.epoch < run.cfg.epochs:
        if last is not None and time.time() + 1.15 * last > deadline:
            # The book shows a partial record as such ("k of N epochs"); the checkpoint
            # under runs/ lets the next window go on.
            if run.epoch <= kept:
                return (f"paused at epoch {run.epoch}/{run.cfg.epochs} (the stored partial "
                        f"record of {kept} epochs is kept)")
            shutil.copyfile(runs / name / "record.json", book / f"{name}.json")
            return f"paused at epoch {run.epoch}/{run.cfg.epochs} (partial record stored)"
        if last is None and time.time() + 1.15 * timing.get("epoch_seconds", 0.0) > deadline:
            if run.epoch:   # resumed but no epoch fits: its stored partial record stands
                return f"not resumed (epoch {run.epoch}/{run.cfg.epochs}): no epoch fits"
            return f"not started (epoch {run.epoch}/{run.cfg.epochs})"
        t0 = time.time()
        entry = run.run_epoch()
        last = timing["epoch_seconds"] = time.time() - t0
        print(json.dumps({"run": name, "epoch": entry["epoch"], "of": run.cfg.epochs,
                          "seconds": round(last, 1), "val_acc": entry["val_acc"],
                          "genotype": entry["genotype"]}), flush=True)
    shutil.copyfile(runs / name / "record.json", book / f"{name}.json")
    return "complete"


def collect(runs: Path, book: Path) -> list[str]:
    """Copy each run's record from ``runs`` to ``book`` where the book has none or an older
    one (fewer epochs): a safety net for a window cut short (a process killed before it could
    store its partial record). Returns the names copied."""
    copied = []
    for src in sorted(runs.glob("*/record.json")):
        dst = book / f"{src.parent.name}.json"
        new = load_record(src)
        if dst.exists() and len(load_record(dst)["history"]) >= len(new["history"]):
            continue
        if new["history"]:
            book.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            copied.append(src.parent.name)
    return copied


def pick_carry(runs: Path, limit_bytes: int) -> Path | None:
    """The unfinished run under ``runs`` worth carrying to the next GPU window: the one
    with the most epochs done whose folder fits ``limit_bytes`` (None if none fits)."""
    best, best_epochs = None, -1
    for folder in sorted(p for p in runs.glob("*") if (p / "checkpoint.pt").exists()):
        record = load_record(folder / "record.json") if (folder / "record.json").exists() else None
        if record is None or record.get("complete"):
            continue
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        if size <= limit_bytes and len(record["history"]) > best_epochs:
            best, best_epochs = folder, len(record["history"])
    return best


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan", choices=sorted(PLANS), default="all")
    p.add_argument("--only", nargs="+", default=None, help="run names from the plan (see --list)")
    p.add_argument("--dataset", default="cifar10-jpeg")
    p.add_argument("--profile", default="paper", choices=nas_kit.PROFILES)
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of this window")
    p.add_argument("--runs", type=Path, default=Path("runs/records"))
    p.add_argument("--book", type=Path, default=Path("book/records"))
    p.add_argument("--device", default=None)
    p.add_argument("--cuda-graphs", action="store_true",
                   help="replay CUDA graphs where the run allows; use after the speed "
                        "benchmark has checked replay against eager")
    p.add_argument("--cuda-graphs-if", type=Path, default=None, metavar="BENCHMARK_JSON",
                   help="CUDA graphs for the runs whose method and space (or, not benchmarked, "
                        "DARTS in their space) this search_speed.py result verified")
    p.add_argument("--skip-noise-graphs-if", type=Path, default=None, metavar="BENCHMARK_JSON",
                   help="CUDA graphs for skip-noise runs whose method and space this "
                        "search_speed.py --skip-noise result verified (missing file: none)")
    p.add_argument("--pick-carry", type=float, default=None, metavar="MIB",
                   help="print the folder of the unfinished run to carry (fits MIB) and exit")
    p.add_argument("--space", choices=["darts", "nb201"], default=None,
                   help="only the plan's runs in this search space")
    p.add_argument("--order", choices=["plan", "priority", "cost"], default="plan",
                   help="priority: NB201 first, recipes (seed 0 first) before ablations; cost: "
                        "NB201 first, then the runs the --cuda-graphs-if benchmark projects "
                        "cheapest (a window finishes them)")
    p.add_argument("--cost-from", type=Path, nargs="+", default=None, metavar="BENCHMARK_JSON",
                   help="benchmark files whose step times --order cost uses (missing files "
                        "are skipped; default: the --cuda-graphs-if file)")
    p.add_argument("--share", default=None, metavar="K/N",
                   help="this process takes runs K, K+N, K+2N, ... of the (ordered) plan: "
                        "N processes with K = 0..N-1 share the GPU without overlap")
    p.add_argument("--headroom", type=Path, default=None, metavar="BENCHMARK_JSON",
                   help="print how many NAS-Bench-201 runs can share the GPU (launch_headroom) "
                        "and exit")
    p.add_argument("--collect", action="store_true",
                   help="copy records under --runs newer than --book's (a cut-short window) and exit")
    p.add_argument("--estimate", type=Path, nargs="+", default=None, metavar="BENCHMARK_JSON",
                   help="print each planned run's projected GPU minutes from benchmark files "
                        "(the fastest usable row of each method and space), and the total, and exit")
    p.add_argument("--list", action="store_true", help="print the plan's runs and exit")
    return p


def _select(args, p) -> list[dict]:
    """The runs this process makes: the plan, filtered by space, ordered, its share, --only."""
    plan = PLANS[args.plan]
    if args.space:
        plan = [s for s in plan if s["space"] == args.space]
    if args.order == "priority":
        plan = priority_order(plan)
    elif args.order == "cost":
        files = args.cost_from or ([args.cuda_graphs_if] if args.cuda_graphs_if else [])
        if not files:
            p.error("--order cost needs step times: --cost-from BENCHMARK_JSON ... "
                    "(or --cuda-graphs-if BENCHMARK_JSON)")
        plan = cost_order(plan, read_rows(files), args.profile, args.runs)
    if args.share:
        try:
            k, n = (int(v) for v in args.share.split("/"))
            if not 0 <= k < n:
                raise ValueError
        except ValueError:
            p.error(f"--share {args.share!r}: expected K/N with 0 <= K < N, e.g. 0/3")
        plan = plan[k::n]
    if args.only:
        names = {s["name"] for s in plan}
        unknown = sorted(set(args.only) - names)
        if unknown:
            p.error(f"unknown run names {unknown}; valid: {', '.join(sorted(names))}")
        plan = [s for s in plan if s["name"] in args.only]
    return plan


def _print_estimate(plan: list[dict], files: list[Path], profile: str) -> None:
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"--estimate: no benchmark file {', '.join(missing)}")
    bench = read_rows(files)
    total, unknown = 0.0, []
    for spec in plan:
        est = estimate_minutes(spec, bench, profile)
        if est is None:
            unknown.append(spec["name"])
            print(f"{spec['name']:34s} not benchmarked")
            continue
        total += est[0]
        print(f"{spec['name']:34s} {est[0]:8.1f} min ({est[1]})")
    print(f"total {total:.0f} GPU minutes ({total / 60:.1f} h) for {len(plan) - len(unknown)} "
          f"runs; not benchmarked: {len(unknown)}")


def advance_safely(spec, graphs: bool, **kw) -> str:
    """`advance`, but a failing run costs only itself: its state says why, and a run that
    failed with CUDA graphs or compiled resumes from its last checkpoint without them (same
    algorithm)."""
    try:
        return advance(spec, cuda_graphs=graphs, **kw)
    except Exception as e:  # one run's failure must not cost the window's other runs
        traceback.print_exc()
        state = f"failed: {type(e).__name__}: {e}"[:400]
        retry = (graphs or (kw.get("engine") or {}).get("compile")) \
            and not isinstance(e, NonFiniteError)
    if not retry:
        return state
    try:
        engine = {k: v for k, v in (kw.pop("engine", None) or {}).items() if k != "compile"}
        return advance(spec, cuda_graphs=False, engine=engine, **kw) \
            + f" (without CUDA graphs or compiling, after: {state})"
    except Exception as e2:
        traceback.print_exc()
        return state + f"; without graphs: {type(e2).__name__}: {e2}"[:400]


def main(argv=None):
    p = _parser()
    args = p.parse_args(argv)
    if args.pick_carry is not None:
        folder = pick_carry(args.runs, int(args.pick_carry * 2**20))
        print(folder.name if folder is not None else "")
        return {}
    if args.collect:
        print(json.dumps({"collected": collect(args.runs, args.book)}))
        return {}
    if args.headroom is not None:
        bench = json.loads(args.headroom.read_text()) if args.headroom.exists() else {}
        print(launch_headroom(bench, "nb201"))
        return {}
    plan = _select(args, p)
    if args.estimate is not None:
        _print_estimate(plan, args.estimate, args.profile)
        return {}
    if args.list:
        for s in plan:
            print(s["name"], json.dumps(s["overrides"]) if s["overrides"] else "")
        return {}
    verified, failed, bench, noise_verified = {}, {}, None, {}
    if args.skip_noise_graphs_if is not None and args.skip_noise_graphs_if.exists():
        noise_verified = graphs_verified(json.loads(args.skip_noise_graphs_if.read_text()))[0]
        print(json.dumps({"cuda_graphs_verified_with_skip_noise":
                          {f"{m}/{s}": w for (m, s), w in noise_verified.items()}}), flush=True)
    if args.cuda_graphs_if is not None:
        if args.cuda_graphs_if.exists():
            bench = json.loads(args.cuda_graphs_if.read_text())
            verified, failed = graphs_verified(bench)
        print(json.dumps({"cuda_graphs_verified": {f"{m}/{s}": w for (m, s), w in verified.items()},
                          "cuda_graphs_failed": {f"{m}/{s}": w for (m, s), w in failed.items()},
                          "benchmark": str(args.cuda_graphs_if)}), flush=True)
    if (args.cuda_graphs or verified or noise_verified) and not torch.cuda.is_available():
        p.error("--cuda-graphs needs a CUDA device; this machine has none")
    torch.backends.cudnn.benchmark = True   # fixed shapes: let cuDNN pick its fastest kernels
    deadline = time.time() + 60 * args.minutes
    dataset = nas_kit.data.load_dataset(args.dataset, "train") if args.dataset != "synthetic" \
        else nas_kit.data.synthetic(n=64, image_size=16, seed=0)
    states, timing = {}, {}
    for spec in plan:
        kw = dict(dataset=dataset, runs=args.runs, book=args.book, deadline=deadline,
                  profile=args.profile, device=args.device, engine=engine_for(spec, bench),
                  timing=timing)
        graphs = args.cuda_graphs or graphs_for(spec, verified, failed, noise_verified)
        # compiled where that was measured fastest (and then in the layout it was measured in)
        how = compile_for(spec, bench, graphs) or layout_for(spec, bench, graphs)
        kw["engine"] = {**kw["engine"], **how}
        states[spec["name"]] = advance_safely(spec, graphs, **kw)
        print(json.dumps({"run": spec["name"], "state": states[spec["name"]]}), flush=True)
        if time.time() > deadline:
            break
    return states


if __name__ == "__main__":
    main()
