"""Make the stored paper-profile records the book shows, in short GPU windows.

A 50-epoch search does not fit one 10-minute GPU window, so every run writes its
checkpoint each epoch under ``--runs`` and this script resumes it next time. Within a
window it stops at an epoch boundary when the next epoch would not finish before
``--minutes`` (estimated from the last epoch), so no epoch is lost. A run that completes
has its record copied, unchanged (checksum and all), to ``--book`` (`book/records/`); a
paused run's record goes there too, as a partial record the book shows as "k of N epochs"
(the issue's "store the longest run that fits and say so"). A partial record whose
checkpoint is not under ``--runs`` is left alone (delete it to start that run again).

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import nas_kit  # noqa: E402
from nas_kit.records import load_record  # noqa: E402

# The plans (which records each chapter needs) live in nas_kit.stored, shared with the book.
from nas_kit.stored import PLANS, run_spec as _run  # noqa: E402,F401  (_run: for callers)


def graphs_overrides(spec, profile: str, device) -> dict:
    """{'cuda_graphs': True} when the run's config can replay CUDA graphs, else {}."""
    from nas_kit.graphs import check_graphable
    cfg = nas_kit.resolve_config(spec["method"], spec["space"], "cifar10", profile=profile,
                                 cuda_graphs=True, **spec["overrides"])
    try:
        check_graphable(cfg, torch.device(device or "cuda"))
    except ValueError:
        return {}
    return {"cuda_graphs": True}


REPLAY_TOLERANCE = {"replay_alpha_grad_rel_diff": 1e-3, "replay_val_loss_rel_diff": 1e-4}


def graphs_verified(benchmark: dict) -> tuple[dict, dict]:
    """What a GPU speed benchmark (search_speed.py JSON) showed about CUDA graphs, per
    (method, space): ``(verified, failed)``, each {(method, space): why}. Verified: the
    replayed step matched the eager one (within REPLAY_TOLERANCE) and beat the fused
    engine alone. Rows refused by design (CPU, second order, skip noise) are neither."""
    verified, failed = {}, {}
    for r in benchmark.get("rows", []):
        if r.get("path") != "graphs" or "needs a CUDA device" in r.get("error", "") \
                or "not available with" in r.get("error", ""):
            continue
        key = (r["method"], r["space"])
        if "error" in r or "replay_error" in r:
            failed[key] = r.get("error") or f"replay check failed: {r['replay_error']}"
            continue
        bad = [f"{k} = {r.get(k)} > {tol}" for k, tol in REPLAY_TOLERANCE.items()
               if not r.get(k, float("inf")) <= tol]
        fused = next((f for f in benchmark["rows"] if f.get("path") == "fused"
                      and (f["method"], f["space"]) == key and "error" not in f), None)
        if fused is None or not r["ms_per_step"] < fused["ms_per_step"]:
            bad.append("not faster than the fused engine")
        if bad:
            failed[key] = "; ".join(bad)
        else:
            verified[key] = (f"replay matches eager, {fused['ms_per_step'] / r['ms_per_step']:.1f}x "
                             "faster than fused")
    return verified, failed


def graphs_for(spec, verified: dict, failed: dict) -> bool:
    """Use CUDA graphs for `spec`: its own (method, space) was verified, or it was not
    benchmarked and first-order DARTS in its space was (the same machinery)."""
    key = (spec["method"], spec["space"])
    return key in verified or (key not in failed and ("darts", spec["space"]) in verified)


def advance(spec, *, dataset, runs: Path, book: Path, deadline: float, profile: str,
            device=None, cuda_graphs: bool = False) -> str:
    """Run `spec` from its checkpoint until done or the deadline; returns its state.

    cuda_graphs: replay CUDA graphs for the runs whose method allows them (a run may
    resume under another engine: how it is computed is not part of what is searched).
    """
    name = spec["name"]
    stored = load_record(book / f"{name}.json") if (book / f"{name}.json").exists() else None
    if stored is not None and stored.get("complete"):
        return "stored"
    if stored is not None and not (runs / name / "checkpoint.pt").exists():
        return (f"partial record stored ({len(stored['history'])} of "
                f"{stored['config']['epochs']} epochs), but its checkpoint is not under {runs}: "
                "carry it to go on, or delete the partial record to start again")
    if torch.cuda.is_available():  # each record's peak memory is its own run's
        torch.cuda.reset_peak_memory_stats()
    book.mkdir(parents=True, exist_ok=True)
    how = graphs_overrides(spec, profile, device) if cuda_graphs else {}
    run = nas_kit.prepare_search(spec["method"], spec["space"], dataset, profile=profile,
                                 seed=spec["seed"], out=runs / name, resume=True,
                                 device=device, progress=False, **spec["overrides"], **how)
    last = None
    while run.epoch < run.cfg.epochs:
        if last is not None and time.time() + 1.15 * last > deadline:
            # The book shows a partial record as such ("k of N epochs"); the checkpoint
            # under runs/ lets the next window go on.
            shutil.copyfile(runs / name / "record.json", book / f"{name}.json")
            return f"paused at epoch {run.epoch}/{run.cfg.epochs} (partial record stored)"
        if last is None and time.time() > deadline:
            return f"not started (epoch {run.epoch}/{run.cfg.epochs})"
        t0 = time.time()
        entry = run.run_epoch()
        last = time.time() - t0
        print(json.dumps({"run": name, "epoch": entry["epoch"], "of": run.cfg.epochs,
                          "seconds": round(last, 1), "val_acc": entry["val_acc"],
                          "genotype": entry["genotype"]}), flush=True)
    shutil.copyfile(runs / name / "record.json", book / f"{name}.json")
    return "complete"


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


def main(argv=None):
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
                   help="replay CUDA graphs where the method allows (first order, no skip noise); "
                        "use after the speed benchmark has checked replay against eager")
    p.add_argument("--cuda-graphs-if", type=Path, default=None, metavar="BENCHMARK_JSON",
                   help="CUDA graphs for the runs whose method and space (or, not benchmarked, "
                        "DARTS in their space) this search_speed.py result verified")
    p.add_argument("--pick-carry", type=float, default=None, metavar="MIB",
                   help="print the folder of the unfinished run to carry (fits MIB) and exit")
    p.add_argument("--list", action="store_true", help="print the plan's runs and exit")
    args = p.parse_args(argv)
    if args.pick_carry is not None:
        folder = pick_carry(args.runs, int(args.pick_carry * 2**20))
        print(folder.name if folder is not None else "")
        return {}
    plan = PLANS[args.plan]
    if args.only:
        names = {s["name"] for s in plan}
        unknown = sorted(set(args.only) - names)
        if unknown:
            p.error(f"unknown run names {unknown}; valid: {', '.join(sorted(names))}")
        plan = [s for s in plan if s["name"] in args.only]
    if args.list:
        for s in plan:
            print(s["name"], json.dumps(s["overrides"]) if s["overrides"] else "")
        return {}
    verified, failed = {}, {}
    if args.cuda_graphs_if is not None:
        if args.cuda_graphs_if.exists():
            verified, failed = graphs_verified(json.loads(args.cuda_graphs_if.read_text()))
        print(json.dumps({"cuda_graphs_verified": {f"{m}/{s}": w for (m, s), w in verified.items()},
                          "cuda_graphs_failed": {f"{m}/{s}": w for (m, s), w in failed.items()},
                          "benchmark": str(args.cuda_graphs_if)}), flush=True)
    if (args.cuda_graphs or verified) and not torch.cuda.is_available():
        p.error("--cuda-graphs needs a CUDA device; this machine has none")
    torch.backends.cudnn.benchmark = True   # fixed shapes: let cuDNN pick its fastest kernels
    deadline = time.time() + 60 * args.minutes
    dataset = nas_kit.data.load_dataset(args.dataset, "train") if args.dataset != "synthetic" \
        else nas_kit.data.synthetic(n=64, image_size=16, seed=0)
    states = {}
    for spec in plan:
        states[spec["name"]] = advance(spec, dataset=dataset, runs=args.runs, book=args.book,
                                       deadline=deadline, profile=args.profile, device=args.device,
                                       cuda_graphs=args.cuda_graphs
                                       or graphs_for(spec, verified, failed))
        print(json.dumps({"run": spec["name"], "state": states[spec["name"]]}), flush=True)
        if time.time() > deadline:
            break
    return states


if __name__ == "__main__":
    main()
