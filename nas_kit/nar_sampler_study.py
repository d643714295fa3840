"""NAR's own sampler at the paper's budget, stored as one record.

Chapter 7 runs the same comparison at the reader's profile (one trained NAR, CIFAR-10) and
shows this study, its paper-budget counterpart, beside the ranking study
(``book/records/nar-sampler-nb201-paper.json``).

The ranking study (`nas_kit.nar_study`) searches by ranking a fixed random pool. This study
searches the way the NAR paper does, with its tier-guided sampler (`nas_kit.nar_sampler`),
using the NAR of the ranking study's largest unit: for each training seed it draws the same
held-out and training cells (`nar_study._drawn_cells`), trains NAR the same way (same
model, epochs and seed, CIFAR-10 validation accuracy), and records its Kendall τ on the
held-out cells, so the τ can be set beside the ranking study's. The two runs are close but
need not be bit-identical: within one process and machine training is deterministic (the
tests check it), but another device, thread count or library build can change float
sums; the stored studies, made two days apart on this CPU, differ slightly. With that NAR, three
searchers run with the training seed as search seed, none querying a training or
held-out cell:

* the tier-guided sampler (``force_uniform=False``: the paper's method);
* the same sampler drawing uniformly (``force_uniform=True``: the released NB201 config);
* random search, with as many queries as the larger of the two sampler runs made (a
  sampler queries fewer than iterations x top_k cells when fewer are predicted tier 0).

The curves are the best test accuracy found so far on CIFAR-10 and, from the same queried
cells, on CIFAR-100 and ImageNet16-120 (a transfer: NAR was trained on CIFAR-10).

Units are training seeds; the record is rewritten after each, so a run can be stopped and
resumed (``resume=True``) and seeds added later. Record format
``nas_kit/nar-sampler-study-v1``::

    {format, kind: "nar-sampler-study", dataset, target_split, eval_split,
     dataset_provenance, config, env, units: [unit...], complete, total_seconds, checksum}
    config = {study, dataset, size, train_seeds, held_out, epochs, model,
              sampler: every `SamplerConfig` field}
    unit = {seed, seconds, tau_nar, nar_history: [per-epoch dict],
            search: {curves: {searcher: {dataset: best-so-far test accuracy per query}},
                     queried: {searcher: benchmark indices in query order}},
            sampler_log: {sampler: [per-iteration dict, see `nar_sampler.sampler_search`]}}
    (searcher = one of ``nar_sampler.SEARCHERS``)
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Mapping

import numpy as np

from . import nar, nar_sampler, nar_study, nb201
from .records import round_sig

STUDY_FORMAT = "nas_kit/nar-sampler-study-v1"
SEARCHERS = nar_sampler.SEARCHERS
SAMPLERS = SEARCHERS[:2]
STORED_NAME = "nar-sampler-nb201-paper"   # book/records/<name>.json once it is made

# The sampler's budget per study: the released NB201 settings at 'paper' (50 iterations x
# 128 cells, top 5 queried per iteration); a few small iterations at 'smoke'.
_SAMPLER = {"smoke": dict(iterations=4, batch_size=32), "paper": {}}
# Where NAR's training departs from the ranking study of the same name: at 'paper' nowhere
# (the same NAR as its largest unit); the smoke ranking study's 4 epochs leave a NAR that
# predicts no cell tier 0, so a sampler would query nothing.
_NAR_OVERRIDES = {"smoke": dict(epochs=10), "paper": {}}
STUDIES = tuple(_SAMPLER)
_SAMPLER_FIELDS = tuple(f.name for f in dataclasses.fields(nar_sampler.SamplerConfig))


def study_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The configuration of study ``name`` ('smoke' | 'paper'): the NAR of the ranking study
    of that name (its largest training-set size, held-out cells, epochs, model, training
    seeds; at 'smoke' 10 epochs instead of 4, see ``_NAR_OVERRIDES``) and every setting of
    the sampler. ``sampler`` overrides are merged into those settings (e.g.
    ``sampler={"iterations": 10}``)."""
    if name not in _SAMPLER:
        raise ValueError(f"unknown NAR sampler study {name!r}; valid: {', '.join(STUDIES)}")
    ranking = nar_study.study_config(name, **_NAR_OVERRIDES[name])
    config = {"study": name, "dataset": "cifar10", "size": max(ranking["sizes"]),
              "train_seeds": ranking["train_seeds"], "held_out": ranking["held_out"],
              "epochs": ranking["epochs"], "model": ranking["model"],
              "sampler": dict(_SAMPLER[name])}
    unknown = sorted(k for k in overrides if k not in config or k == "study")
    if unknown:
        raise ValueError(f"unknown sampler-study key(s) {unknown}; valid: "
                         f"{', '.join(k for k in config if k != 'study')}")
    extra = overrides.pop("sampler", {})
    if not isinstance(extra, Mapping):
        raise ValueError(f"sampler must be a dict of SamplerConfig fields, got {extra!r}")
    sampler = {**config["sampler"], **extra}
    config.update(overrides)
    config["sampler"] = _resolved_sampler(sampler)
    _check_config(config)
    return config


def _resolved_sampler(sampler: Mapping[str, Any]) -> dict[str, Any]:
    """Every `SamplerConfig` field, as JSON keeps it (tuples as lists); callers check that
    ``sampler`` is a dict."""
    resolved = dataclasses.asdict(_sampler_config(sampler))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}


def _sampler_config(sampler: Mapping[str, Any]) -> nar_sampler.SamplerConfig:
    unknown = sorted(k for k in sampler if k not in _SAMPLER_FIELDS)
    if unknown:
        raise ValueError(f"unknown sampler setting(s) {unknown}; valid: {', '.join(_SAMPLER_FIELDS)}")
    low = sampler.get("low_tiers", ())
    if isinstance(low, (str, bytes)) or not isinstance(low, (list, tuple)):
        raise ValueError(f"sampler low_tiers must be a list of tiers, got {low!r}")
    values = {k: tuple(v) if k == "low_tiers" else v for k, v in sampler.items()}
    return nar_sampler.SamplerConfig(**values)


def _check_config(config: Mapping[str, Any]) -> None:
    size, seeds = config["size"], config["train_seeds"]
    if int(size) < 10:
        raise ValueError(f"size must be a training-set size >= 10, got {size}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"train_seeds must be distinct seeds, got {seeds}")
    if config["dataset"] != "cifar10":
        raise ValueError(f"NAR is trained on a validation split, which the table has only for "
                         f"cifar10; got dataset {config['dataset']!r}")
    if config["held_out"] + size >= nb201.N_CELLS:
        raise ValueError(f"held_out {config['held_out']} + size {size} leave no cell to search "
                         f"of {nb201.N_CELLS}")
    if not isinstance(config["sampler"], Mapping):
        raise ValueError(f"sampler must be a dict of SamplerConfig fields, got {config['sampler']!r}")
    if config["sampler"].get("force_uniform"):
        raise ValueError("force_uniform is set per searcher (both samplers run); leave it False")
    sampler = _sampler_config(config["sampler"])     # SamplerConfig names a bad value
    n_tiers = config["model"].get("n_tiers", 5)
    if max(sampler.low_tiers) >= n_tiers:
        raise ValueError(f"sampler low_tiers {list(sampler.low_tiers)} name tiers beyond NAR's "
                         f"{n_tiers} (valid: 1..{n_tiers - 1})")


def units_of(config: Mapping[str, Any]) -> list[tuple[int]]:
    """(seed,) in run order."""
    return [(int(s),) for s in config["train_seeds"]]


def run_unit(config: Mapping[str, Any], seed: int, *, device="cpu") -> dict[str, Any]:
    """Train NAR on the ranking study's cells of ``seed``; τ on its held-out cells; the three
    searches with search seed ``seed``."""
    start = time.perf_counter()
    held_out, cells = nar_study._drawn_cells(config, config["size"], seed)
    targets, _ = nar.training_targets(cells, "cifar10")
    ranker = nar.train_nar(cells, targets, epochs=config["epochs"], seed=seed, device=device,
                           dataset="cifar10", target_split="valid", **config["model"])
    tau = nar.kendall_tau(ranker.predict_scores(held_out), nar.accuracies(held_out, "cifar10", "test"))
    runs = nar_sampler.compare_samplers(ranker, cells, targets, [seed], dataset="cifar10",
                                        exclude=held_out, config=_sampler_config(config["sampler"]))
    queried = {name: curves[0].queried for name, curves in runs.items()}
    return {
        "seed": seed, "tau_nar": round_sig(tau),
        "nar_history": [{k: round_sig(v) if isinstance(v, float) else v for k, v in h.items()}
                        for h in ranker.history],
        "search": {"curves": {name: nar_study._curves(ix) for name, ix in queried.items()},
                   "queried": {name: ix.tolist() for name, ix in queried.items()}},
        "sampler_log": {name: runs[name][0].log for name in SAMPLERS},
        "seconds": round_sig(time.perf_counter() - start),
    }


def run_study(config: Mapping[str, Any], out: str | os.PathLike, *, resume: bool = False,
              device="cpu", progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the study; the record at ``out`` is rewritten after every seed."""
    _check_config(config)
    # every sampler setting stored, as JSON reads it back: a resume compares like with like
    config = {**config, "sampler": _resolved_sampler(config["sampler"])}
    header = {"format": STUDY_FORMAT, "kind": "nar-sampler-study", "dataset": "cifar10",
              "target_split": "valid", "eval_split": "test",
              "dataset_provenance": nb201.ATTRIBUTION}
    return nar_study.run_units(
        header, config, units_of(config), lambda seed: run_unit(config, seed, device=device), out,
        load=load_study, resume=resume, device=device, progress=progress,
        key=lambda u: (u["seed"],), postfix=lambda u: {"seed": u["seed"], "tau_nar": u["tau_nar"]})


def load_study(path: str | os.PathLike) -> dict[str, Any]:
    """Read a stored sampler study back, checking format and checksum (RecordError if wrong)."""
    return nar_study.read_study(path, STUDY_FORMAT, "NAR sampler study")


def load_stored(name: str = STORED_NAME, root: str | os.PathLike = "records", *,
                fetch: bool | None = None) -> tuple[dict[str, Any] | None, str]:
    """(study record or None, one line saying what was found), as `nar_study.load_stored`."""
    return nar_study.fetch_study(name, root, fetch=fetch, load=load_study, units=units_of,
                                 command="python -m nas_kit nar-sampler-study --study paper --out")


# --------------------------------------------------------------------------- reading a study


def curves(record: Mapping[str, Any], dataset: str = "cifar10") -> dict[str, list[np.ndarray]]:
    """{searcher: one best-so-far curve per seed} on ``dataset``; the samplers' runs can
    differ in length (a run queries fewer cells when fewer are predicted tier 0)."""
    if dataset not in nb201.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(nb201.DATASETS)}")
    return {name: [np.asarray(u["search"]["curves"][name][dataset]) for u in record["units"]]
            for name in SEARCHERS}


def optimum_hits(record: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """{searcher: {dataset: seeds whose queries include an optimum of the dataset}} (any
    cell tied at the best accuracy, `nb201.optima`)."""
    out: dict[str, dict[str, int]] = {name: {} for name in SEARCHERS}
    for ds in nb201.DATASETS:
        best = {e.index for e in nb201.optima(ds)}
        for name in SEARCHERS:
            out[name][ds] = sum(bool(best & set(u["search"]["queried"][name])) for u in record["units"])
    return out


def best_found(record: Mapping[str, Any], dataset: str = "cifar10") -> dict[str, list[float | None]]:
    """{searcher: the best test accuracy its queries reached, per seed in unit order; None
    for a seed in which it queried nothing}."""
    return {name: [float(c[-1]) if c.size else None for c in per_seed]
            for name, per_seed in curves(record, dataset).items()}


def head_to_head(record: Mapping[str, Any], first: str, second: str,
                 dataset: str = "cifar10") -> dict[str, int]:
    """In how many seeds ``first``'s best found beat, tied or trailed ``second``'s on
    ``dataset``: {"wins", "ties", "losses", "seeds"}; a seed in which either queried nothing
    counts in none of the three, so "seeds" can exceed their sum."""
    for name in (first, second):
        if name not in SEARCHERS:
            raise ValueError(f"unknown searcher {name!r}; valid: {', '.join(SEARCHERS)}")
    best = best_found(record, dataset)
    out = {"wins": 0, "ties": 0, "losses": 0, "seeds": len(_units(record))}
    for a, b in zip(best[first], best[second]):
        if a is not None and b is not None:
            out["wins" if a > b else "ties" if a == b else "losses"] += 1
    return out


def _units(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not record["units"]:
        raise ValueError("the study has no finished unit yet; nothing to read")
    return record["units"]


def guidance(record: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """{sampler: {"ops" | "flops" | "params": mean iterations per seed drawn from the top
    tier, "iterations": iterations per seed, "predicted_tier0": mean cells predicted tier 0
    per batch}}."""
    _units(record)
    out = {}
    for name in SAMPLERS:
        logs = [u["sampler_log"][name] for u in record["units"]]
        out[name] = {k: float(np.mean([sum(e[f"guided_{k}"] for e in log) for log in logs]))
                     for k in ("ops", "flops", "params")}
        out[name]["iterations"] = len(logs[0]) if logs else 0
        out[name]["predicted_tier0"] = float(np.mean([e["predicted_tier0"] for log in logs for e in log]))
    return out


def summary_table(record: Mapping[str, Any]):
    """Best test accuracy found per searcher and dataset (mean ± std over seeds, seeds that
    queried the optimum), queries, and how often each sampler drew from the top tier."""
    from .tables import make_table
    hits, guided = optimum_hits(record), guidance(record)
    seeds = len(_units(record))
    rows = []
    for name in SEARCHERS:
        lengths = [len(u["search"]["queried"][name]) for u in record["units"]]
        row = [name, f"{np.mean(lengths):.0f}"]
        for ds in nb201.DATASETS:
            best = np.array([b for b in best_found(record, ds)[name] if b is not None])
            cell = (f"{best.mean():.2f} ± {best.std(ddof=1):.2f}" if best.size > 1
                    else f"{best.mean():.2f}" if best.size else "no query")
            if 0 < best.size < seeds:      # a seed without queries has no best cell
                cell += f" [{best.size} of {seeds} seeds]"
            row.append(f"{cell} ({hits[name][ds]}/{seeds})")
        g = guided.get(name)
        row.append(" / ".join(f"{g[k]:.1f}" for k in ("ops", "flops", "params"))
                   + f" of {g['iterations']}" if g else "–")
        row.append(f"{g['predicted_tier0']:.1f}" if g else "–")
        rows.append(row)
    rows.append(["benchmark optimum", ""] + [f"{nb201.accuracy(nb201.optimum(ds).index, ds):.2f}"
                                             for ds in nb201.DATASETS] + ["", ""])
    cfg = record["config"]
    taus = [u["tau_nar"] for u in record["units"]]
    return make_table(
        ["searcher", "queries", *(f"{ds} test (%)" for ds in nb201.DATASETS),
         "iterations guided: ops / FLOPs / params", "predicted tier 0 per batch"], rows, notes=[
            f"NAR trained on {cfg['size']:,} cells (CIFAR-10 validation accuracy; Kendall τ on "
            f"{cfg['held_out']:,} held-out cells {np.mean(taus):.3f}, mean over {seeds} "
            f"seed{'s' if seeds != 1 else ''}); "
            f"best test accuracy among the queried cells, mean ± std over seeds; in brackets: "
            f"seeds whose queries included the dataset's optimum (any cell tied at the best "
            f"accuracy); a seed whose searcher queried nothing is left out of the mean and counted in "
            f"square brackets. CIFAR-100 and ImageNet16-120 are a transfer (same queried cells). "
            f"The training cells are queries too and are never queried again."])
