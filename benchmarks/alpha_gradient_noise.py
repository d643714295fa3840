"""How many validation batches does an α-gradient probe need? -> printout and JSON.

Chapters 2 and 4 read the sign of the mean ∂L_val/∂α per operation (which operations the
validation loss pushes up) from a few batches. This repeats chapter 4's probe (section 3:
a NAS-Bench-201 supernet whose weights trained for ``--epochs`` epochs with α frozen) and
reads many batches, then compares the mean over the first ``--few`` with the mean over
all of them, each with its standard error over batches:

    python benchmarks/alpha_gradient_noise.py --methods darts rf-darts --profile colab \\
        --dataset cifar10-jpeg --out runs/alpha_gradient_noise.json

With ``--every-epoch`` it probes before training and after every epoch, as chapter 2 does
(``--methods darts --every-epoch``).

A sign is "kept" when the few-batch and the many-batch mean agree on it; "decided" when the
many-batch mean is at least two standard errors from zero.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nas_kit  # noqa: E402
from nas_kit import analysis, data  # noqa: E402
from nas_kit.records import environment  # noqa: E402


def _read(run, batches: int, few: int) -> dict:
    ops = {}
    for op, v in analysis.alpha_gradient_samples(run, batches=batches)["cell"].items():
        m_few, se_few = analysis.mean_se(v[:few])
        m_all, se_all = analysis.mean_se(v)
        ops[op] = {"few": [m_few, se_few], "all": [m_all, se_all],
                   "kept": bool(np.sign(m_few) == np.sign(m_all)),
                   "decided": analysis.push_verdict(m_all, se_all) != "undecided"}
    return ops


def probe(method: str, dataset, *, profile: str, epochs: int, batches: int, few: int, seed: int,
          every_epoch: bool = False) -> dict:
    """One method's probe after ``epochs`` epochs: {op: {few: (mean, se), all: (mean, se),
    kept, decided}}; with ``every_epoch`` also before training and after each epoch
    (chapter 2's probe), in ``per_epoch``."""
    t0 = time.perf_counter()
    run = nas_kit.prepare_search(method, "nb201", dataset, profile=profile, seed=seed,
                                 progress=False, epochs=epochs, alpha_warmup_epochs=epochs)
    per_epoch = [_read(run, batches, few)] if every_epoch else []
    for _ in range(run.cfg.epochs):
        run.run_epoch()
        if every_epoch:
            per_epoch.append(_read(run, batches, few))
    ops = per_epoch[-1] if every_epoch else _read(run, batches, few)
    return {"method": method, "batch_size": run.cfg.batch_size, "ops": ops,
            "per_epoch": per_epoch or None,
            "device": str(run.device), "seconds": round(time.perf_counter() - t0, 1)}


def _line(label: str, op: str, o: dict, few: int, batches: int) -> str:
    return (f"{label:10s} {op:14s} {few:>2} batches {o['few'][0]:+.5f} ± {o['few'][1]:.5f}"
            f"   {batches} batches {o['all'][0]:+.5f} ± {o['all'][1]:.5f}"
            f"   sign {'kept' if o['kept'] else 'REVERSED'}, {'decided' if o['decided'] else 'undecided'}")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=["darts", "rf-darts"])
    p.add_argument("--profile", default="colab")
    p.add_argument("--dataset", default="cifar10-jpeg")
    p.add_argument("--epochs", type=int, default=3, help="weight-training epochs before the probe")
    p.add_argument("--batches", type=int, default=32)
    p.add_argument("--few", type=int, default=4, help="the batch count a chapter used")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every-epoch", action="store_true",
                   help="probe before training and after every epoch too (chapter 2's probe)")
    p.add_argument("--out", type=Path, default=Path("runs/alpha_gradient_noise.json"))
    args = p.parse_args(argv)
    if not 2 <= args.few <= args.batches:
        p.error(f"need 2 <= --few <= --batches, got --few {args.few}, --batches {args.batches}")
    dataset = data.load_dataset(args.dataset, "train") if args.dataset != "synthetic" \
        else data.synthetic(n=64, image_size=16, seed=0)
    result = {"profile": args.profile, "dataset": args.dataset, "epochs": args.epochs,
              "batches": args.batches, "few": args.few, "seed": args.seed,
              "env": None, "methods": []}
    for method in args.methods:
        r = probe(method, dataset, profile=args.profile, epochs=args.epochs,
                  batches=args.batches, few=args.few, seed=args.seed, every_epoch=args.every_epoch)
        result["methods"].append(r)
        result["env"] = environment(r["device"])
        for k, ops in enumerate(r["per_epoch"] or [r["ops"]]):
            label = f"{method} e{k}" if args.every_epoch else method
            for op, o in ops.items():
                print(_line(label, op, o, args.few, args.batches), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
