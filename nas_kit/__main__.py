"""Command line: ``python -m nas_kit {search,show,train,nar-study,nar-sampler-study,methods} ...``;
``--help`` on each."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parse_set(items: list[str]) -> dict:
    """'key=value' pairs; values read as JSON when possible (3, 0.5, true, [0.9, 0.999])."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"error: --set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _add_study_parser(sub, name: str, summary: str, description: str, studies, study_help: str,
                      units: str, example: str) -> None:
    n = sub.add_parser(name, help=summary, description=description)
    n.add_argument("--study", choices=studies, default="paper", help=study_help)
    n.add_argument("--out", required=True, type=Path, help="study record (.json) to write")
    n.add_argument("--resume", action="store_true", help=f"continue OUT, skipping finished {units}")
    n.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if available)")
    n.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override a study key, e.g. --set train_seeds=[0,1,2,3] {example}")
    n.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .methods import METHODS, SPACES, config_keys
    from .nar_sampler_study import STUDIES as SAMPLER_STUDIES
    from .nar_study import STUDIES
    from .profiles import PROFILES

    p = argparse.ArgumentParser(prog="python -m nas_kit",
                                description="Differentiable architecture search, reproduced.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="run an architecture search, write DIR/record.json",
                       description="Run one bilevel architecture search. Writes OUT/record.json "
                       "and OUT/checkpoint.pt after every epoch and prints the final genotype.")
    s.add_argument("--method", required=True, choices=list(METHODS), help="search method")
    s.add_argument("--space", required=True, choices=SPACES, help="search space")
    s.add_argument("--dataset", default="cifar10", choices=DATASETS,
                   help="dataset (training set, split 50/50 into w and α halves); default cifar10")
    s.add_argument("--profile", choices=PROFILES, default=None,
                   help="budget: smoke | colab | paper (default: $NAS_KIT_PROFILE, else colab "
                        "with CUDA, smoke without)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--out", required=True, type=Path, help="output folder")
    s.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt (same method, space, dataset, config)")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    s.add_argument("--data-root", default=None, type=Path,
                   help="dataset folder (default: $NAS_KIT_DATA or ~/.cache/nas_kit/data)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any hyper-parameter, e.g. --set epochs=100 --set mask_ratio=0.5; "
                        "keys: " + ", ".join(config_keys()))
    s.add_argument("--no-progress", action="store_true", help="no progress bar")

    sh = sub.add_parser("show", help="draw the cells and α plots of a record as image files",
                        description="Write cell drawings (PNG, SVG), α trajectories, weight "
                        "heatmap, skip counts and loss curves of a search record.")
    sh.add_argument("record", type=Path, help="record.json of a search (or its folder)")
    sh.add_argument("--out", required=True, type=Path, help="folder for the image files")

    t = sub.add_parser("train", help="train a genotype from scratch, write DIR/record.json",
                       description="Train the network of a genotype from scratch (DARTS protocol "
                       "with cutout, drop-path and auxiliary head, or the NB201 protocol) and "
                       "record its test accuracy and weight count.")
    t.add_argument("--genotype", required=True,
                   help="genotype text (DARTS `Genotype(...)` or NB201 `|op~0|+...`), a published "
                        "name (e.g. DARTS_V2), or a search record.json")
    t.add_argument("--space", required=True, choices=SPACES, help="search space of the genotype")
    t.add_argument("--dataset", default="cifar10", choices=DATASETS, help="dataset; default cifar10")
    t.add_argument("--profile", choices=PROFILES, default=None, help="budget (see search)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, type=Path, help="output folder")
    t.add_argument("--device", default=None)
    t.add_argument("--data-root", default=None, type=Path)
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training hyper-parameter, e.g. --set epochs=20")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt (written every epoch)")
    t.add_argument("--no-progress", action="store_true")

    _add_study_parser(
        sub, "nar-study", "NAR vs baselines on NAS-Bench-201: Kendall τ and search",
        "Train NAR, an MSE regressor and a pairwise ranker per training-set size and seed on the "
        "NB201 table (CIFAR-10 validation accuracy), score Kendall τ on held-out cells and search "
        "with each ranker vs random search. Writes one study record, rewritten after every "
        "(size, seed) unit; --resume continues it.", STUDIES,
        "budget: smoke (seconds) or paper (the NAR paper's NB201 model; hours on a CPU)",
        "units", "--set epochs=30")
    _add_study_parser(
        sub, "nar-sampler-study", "NAR's tier-guided sampler vs uniform and random search",
        "Per training seed, train NAR as the nar-study's largest unit does, then search "
        "NAS-Bench-201 with NAR's tier-guided sampler, the same sampler drawing uniformly, and "
        "random search. Writes one record, rewritten after every seed; --resume continues it.",
        SAMPLER_STUDIES, "budget: smoke (seconds) or paper (the NAR paper's model and sampler)",
        "seeds", '--set \'sampler={"iterations": 20}\'')

    sub.add_parser("methods", help="list the registered methods with their papers")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import nas_kit

    try:
        if args.command == "methods":
            for name, m in nas_kit.METHODS.items():
                print(f"{name:12s} {m.summary}\n{'':12s} {m.paper}")
            return 0
        if args.command == "search":
            record = nas_kit.search(args.method, args.space, args.dataset, profile=args.profile,
                                    seed=args.seed, out=args.out, resume=args.resume,
                                    device=args.device, progress=not args.no_progress,
                                    data_root=args.data_root, **_parse_set(args.set))
            print(f"record: {args.out / 'record.json'}")
            print(f"genotype: {record['genotype']}")
            return 0
        if args.command == "show":
            from . import viz
            record = nas_kit.load_record(args.record)
            for path in viz.save_record_figures(record, args.out):
                print(path)
            return 0
        if args.command in ("nar-study", "nar-sampler-study"):
            import numpy as np
            import torch

            from . import nar_sampler_study, nar_study
            module = nar_study if args.command == "nar-study" else nar_sampler_study
            config = module.study_config(args.study, **_parse_set(args.set))
            device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
            record = module.run_study(config, args.out, resume=args.resume, device=device,
                                      progress=not args.no_progress)
            if module is nar_study:
                for name, by_size in nar_study.tau_table(record).items():
                    print(f"{name:16s} " + "  ".join(f"n={n}: τ {np.mean(v):.3f} ({len(v)} seeds)"
                                                    for n, v in sorted(by_size.items())))
            else:
                print(nar_sampler_study.summary_table(record))
            print(f"record: {args.out} ({'complete' if record['complete'] else 'partial'})")
            return 0
        if args.command == "train":
            # a published name, genotype text or a record path: train() resolves all three
            result = nas_kit.train(args.genotype, args.space, args.dataset, profile=args.profile,
                                   seed=args.seed, out=args.out, device=args.device,
                                   data_root=args.data_root, progress=not args.no_progress,
                                   resume=args.resume, **_parse_set(args.set))
            print(f"record: {args.out / 'record.json'}")
            print(f"test accuracy: {result['test_acc']:.2f} %  weights: {result['num_weights']:,}")
            return 0
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as e:
        # Expected failures (bad input, missing data, non-finite loss, OOM) get one clear line.
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
