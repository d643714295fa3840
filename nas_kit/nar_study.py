"""A NAR study on NAS-Bench-201, stored as one record: ranking quality and search.

What chapter 7 shows from a stored run (and what a reader can re-run at any budget):

* **Ranking quality**: for every training-set size and training seed, NAR, an MSE
  regressor and a pairwise ranker are trained on the same cells (CIFAR-10 *validation*
  accuracy) and scored by Kendall τ against the CIFAR-10 *test* accuracy of the same
  held-out cells (never trained on).
* **Search**: each ranker of the largest size ranks a random pool of untried cells and the
  benchmark is queried in that order; random search queries random cells. The curves are
  the best test accuracy found so far on CIFAR-10 and, from the same queried cells, on
  CIFAR-100 and ImageNet16-120 (a ranker trained on CIFAR-10 validation accuracy, i.e. a
  transfer; the shipped table has no validation split for those two datasets).
* **Tiers**: NAR's predicted vs true quintile on the held-out cells (confusion matrix).

The study runs in *units* (one training-set size x one training seed); the record is
written after each unit, so a run can be stopped and resumed (``resume=True``) and its
seeds extended later without repeating work. Record format ``nas_kit/nar-study-v1``::

    {format, kind: "nar-study", dataset, target_split, eval_split, dataset_provenance,
     config, env, units: [unit...], complete, total_seconds, checksum}
    unit = {size, seed, seconds, tau: {ranker: τ}, nar_history: [per-epoch dict],
            search (largest size only): {curves: {searcher: {dataset: best-so-far test
            accuracy per query}}, queried: {searcher: benchmark indices in query order}},
            tier_confusion (largest size only): 5x5 counts, rows = true tier}
    (searcher = one of ``SEARCHERS``: the three rankers and random search)
"""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import nar, nb201
from .records import RecordError, environment, read_checked, round_sig, save_record

STUDY_FORMAT = "nas_kit/nar-study-v1"
RANKERS = ("NAR", "MSE regressor", "pairwise ranker")
SEARCHERS = RANKERS + ("random search",)
HELD_OUT_SEED = 100     # the held-out cells: the same for every unit, disjoint from training cells

# smoke: a tiny model that checks the code runs in seconds. paper: the NAR paper's NB201
# model and schedule (d_model 128, 6+6 layers, 55 epochs, batch 128; 1,000 training cells is
# the paper's training-set size), three training seeds. The search pool of 6,400 cells is
# what the paper's NB201 sampler draws (50 iterations x 128, uniform: its released NB201
# config forces uniform sampling); the optimum is in such a pool about half the time.
_STUDIES = {
    "smoke": dict(sizes=[50, 100], train_seeds=[0, 1], held_out=300, epochs=4, queries=20,
                  pool=300, model=dict(d_model=32, n_heads=4, d_ff=64, n_layers=1,
                                       tier_hidden=32, score_hidden=64)),
    "paper": dict(sizes=[100, 300, 1000], train_seeds=[0, 1, 2], held_out=2000, epochs=55,
                  queries=100, pool=6400, model={}),
}
STUDIES = tuple(_STUDIES)


def study_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The configuration of study ``name`` ('smoke' | 'paper'), with keys overridden."""
    if name not in _STUDIES:
        raise ValueError(f"unknown NAR study {name!r}; valid: {', '.join(STUDIES)}")
    config = {"study": name, "dataset": "cifar10", **copy.deepcopy(_STUDIES[name])}
    unknown = sorted(k for k in overrides if k not in config or k == "study")
    if unknown:
        raise ValueError(f"unknown study key(s) {unknown}; valid: "
                         f"{', '.join(k for k in config if k != 'study')}")
    config.update(overrides)
    _check_config(config)
    return config


def _check_config(config: Mapping[str, Any]) -> None:
    sizes, seeds = config["sizes"], config["train_seeds"]
    if not sizes or any(int(n) < 10 for n in sizes):
        raise ValueError(f"sizes must be training-set sizes >= 10, got {sizes}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"train_seeds must be distinct seeds, got {seeds}")
    if not 1 <= config["queries"] <= config["pool"]:
        raise ValueError(f"need 1 <= queries <= pool, got {config['queries']} and {config['pool']}")
    if config["dataset"] != "cifar10":
        raise ValueError(f"the study trains on a validation split, which the table has only for "
                         f"cifar10; got dataset {config['dataset']!r}")
    free = nb201.N_CELLS - config["held_out"] - max(sizes)
    if free < config["pool"]:
        raise ValueError(f"held_out {config['held_out']} + largest size {max(sizes)} leave "
                         f"{free} cells, fewer than pool {config['pool']}")


def units_of(config: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(size, seed) in run order: all sizes of one seed before the next seed."""
    return [(int(n), int(s)) for s in config["train_seeds"] for n in config["sizes"]]


def _trainers(config, device):
    epochs, model = config["epochs"], config["model"]
    return {
        "NAR": lambda c, y, seed: nar.train_nar(c, y, epochs=epochs, seed=seed, device=device,
                                                dataset="cifar10", target_split="valid", **model),
        "MSE regressor": lambda c, y, seed: nar.train_mse_regressor(c, y, epochs=epochs, seed=seed),
        "pairwise ranker": lambda c, y, seed: nar.train_pairwise_ranker(c, y, epochs=epochs, seed=seed),
    }


def _curves(queried: np.ndarray) -> dict[str, list[float]]:
    """Best-so-far test accuracy of the queried cells on every NB201 dataset."""
    return {ds: [round_sig(v) for v in np.maximum.accumulate(nar.accuracies(queried, ds, "test"))]
            for ds in nb201.DATASETS}


def _drawn_cells(config: Mapping[str, Any], size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out cells, ``size`` training cells drawn with ``seed``): benchmark indices."""
    held_out = nar.sample_cells(config["held_out"], seed=HELD_OUT_SEED)
    return held_out, nar.sample_cells(size, seed=seed, exclude=held_out)


def run_unit(config: Mapping[str, Any], size: int, seed: int, *, device="cpu") -> dict[str, Any]:
    """Train the three rankers on ``size`` cells drawn with ``seed``; τ on the held-out cells,
    and, for the largest size, the searches and NAR's tier confusion matrix."""
    start = time.perf_counter()
    held_out, cells = _drawn_cells(config, size, seed)
    truth = nar.accuracies(held_out, "cifar10", "test")
    targets, _ = nar.training_targets(cells, "cifar10")
    unit: dict[str, Any] = {"size": size, "seed": seed, "tau": {}}
    rankers = {}
    for name, train in _trainers(config, device).items():
        rankers[name] = ranker = train(cells, targets, seed)
        unit["tau"][name] = round_sig(nar.kendall_tau(ranker.predict_scores(held_out), truth))
    unit["nar_history"] = [{k: round_sig(v) if isinstance(v, float) else v for k, v in h.items()}
                           for h in rankers["NAR"].history]
    if size == max(config["sizes"]):
        used = np.concatenate([cells, held_out])     # search proposes cells nobody has queried
        q, pool = config["queries"], config["pool"]
        queried = {name: nar.search_with_ranker(r, q, dataset="cifar10", seed=seed, pool_size=pool,
                                                exclude=used).queried
                   for name, r in rankers.items()}
        queried["random search"] = nar.random_search(q, dataset="cifar10", seed=seed, exclude=used).queried
        unit["search"] = {"curves": {name: _curves(ix) for name, ix in queried.items()},
                          "queried": {name: ix.tolist() for name, ix in queried.items()}}
        true_tier = nar.tiers_from_accuracy(truth)
        pred_tier = rankers["NAR"].predict_tiers(held_out)
        confusion = np.zeros((5, 5), dtype=np.int64)
        np.add.at(confusion, (true_tier, pred_tier), 1)
        unit["tier_confusion"] = confusion.tolist()
    unit["seconds"] = round_sig(time.perf_counter() - start)
    return unit


def read_study(path: str | os.PathLike, fmt: str, what: str) -> dict[str, Any]:
    """Read a study record of format ``fmt`` (named ``what`` in errors) back, checking its
    format, keys and checksum (RecordError if wrong)."""
    def validate(record: Any, source: str) -> None:
        if not isinstance(record, dict) or record.get("format") != fmt:
            raise RecordError(f"{source} is not a {what} (format {fmt!r})")
        missing = [k for k in ("config", "env", "units", "complete") if k not in record]
        if missing:
            raise RecordError(f"{source}: missing keys {missing}")
    return read_checked(path, validate, what=what, require_checksum=True)


def load_study(path: str | os.PathLike) -> dict[str, Any]:
    """Read a stored study back, checking format and checksum (RecordError if wrong)."""
    return read_study(path, STUDY_FORMAT, "NAR study")


STORED_NAME = "nar-study-nb201-paper"   # book/records/<name>.json: the study chapter 7 shows


def load_stored(name: str = STORED_NAME, root: str | os.PathLike = "records", *,
                fetch: bool | None = None) -> tuple[dict[str, Any] | None, str]:
    """(study record or None, one line saying what was found) for chapter 7.

    Like `nas_kit.stored.load`: in Colab (or with ``fetch=True``) a study missing under
    ``root`` is downloaded from the project's records first; a damaged file raises.
    """
    return fetch_study(name, root, fetch=fetch, load=load_study, units=units_of,
                       command="python -m nas_kit nar-study --study paper --out")


def fetch_study(name: str, root: str | os.PathLike, *, fetch: bool | None, load, units,
                command: str) -> tuple[dict[str, Any] | None, str]:
    """`load_stored` for any study kind: ``load(path)`` reads and checks a record,
    ``units(config)`` lists the units a complete one holds, ``command`` (+ path) makes it."""
    from . import stored
    path = Path(root) / f"{name}.json"
    fetch = stored._default_fetch() if fetch is None else fetch
    why = None
    if not path.exists() and fetch:
        why = stored._fetch(name, path, stored.RECORDS_URL, 20.0, check=load)
    if not path.exists():
        return None, (f"no stored study {path}" + (f" (download failed: {why})" if why else "")
                      + f"; make it with: {command} {path}")
    record = load(path)
    seeds = sorted({u["seed"] for u in record["units"]})
    state = "complete" if record["complete"] else f"partial: {len(record['units'])} of " \
        f"{len(units(record['config']))} units"
    env = record["env"]
    # Records since 2026-11-29 name a CPU in full ("CPU (x86_64, 2 threads)"); older ones
    # only its architecture, which needs the device type beside it.
    name = env["device_name"]
    device = name if name.startswith("CPU (") else f"{env['device']} ({name})"
    return record, (f"stored study {path} ('{record['config']['study']}' budget, {state}; "
                    f"training seeds {seeds}; {record['total_seconds'] / 60:.1f} min on {device}, "
                    f"torch {env['torch']}, commit {str(env['git_commit'])[:7]})")


def run_study(config: Mapping[str, Any], out: str | os.PathLike, *, resume: bool = False,
              device="cpu", progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the study; the record at ``out`` is rewritten after every unit."""
    _check_config(config)
    header = {"format": STUDY_FORMAT, "kind": "nar-study", "dataset": "cifar10",
              "target_split": "valid", "eval_split": "test",
              "dataset_provenance": nb201.ATTRIBUTION}
    return run_units(header, config, units_of(config), lambda size, seed: run_unit(
        config, size, seed, device=device), out, load=load_study, resume=resume, device=device,
        progress=progress, key=lambda u: (u["size"], u["seed"]),
        postfix=lambda u: {"size": u["size"], "seed": u["seed"], "tau_nar": u["tau"]["NAR"]})


def run_units(header: Mapping[str, Any], config: Mapping[str, Any], units: list, run_one,
              out: str | os.PathLike, *, load, resume: bool, device, progress: bool, key,
              postfix) -> dict[str, Any]:
    """The resumable loop every study shares: ``run_one(*unit)`` for each unit not yet in the
    record at ``out`` (``key(unit record)`` names a finished one), the record rewritten after
    every unit. On resume only ``train_seeds`` may differ from the stored configuration."""
    out = Path(out)
    config = dict(config)
    if out.exists() and not resume:
        raise FileExistsError(f"{out} exists; pass resume=True (--resume) to continue it")
    if resume and out.exists():
        record = load(out)
        old = {k: v for k, v in record["config"].items() if k != "train_seeds"}
        new = {k: v for k, v in config.items() if k != "train_seeds"}
        if old != new:
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(f"{out} was made with another configuration (differs in {changed}); "
                             f"only train_seeds may be extended on resume")
        if {key(u) for u in record["units"]} >= set(units):
            return record           # nothing to run: the stored record, unchanged
        record["config"] = config
        record["env_history"] = record.get("env_history", []) + [record["env"]]
    else:
        record = {**header, "config": config, "units": [], "complete": False, "total_seconds": 0.0}
    record["env"] = environment(device)
    done = {key(u) for u in record["units"]}
    todo = [u for u in units if u not in done]
    record["complete"] = not todo
    from .progress import progress_bar
    with progress_bar(total=len(todo), disable=not progress, desc=f"{header['kind']} units") as bar:
        for unit_key in todo:
            unit = run_one(*unit_key)
            record["units"].append(unit)
            record["total_seconds"] = round_sig(record["total_seconds"] + unit["seconds"])
            record["complete"] = unit_key == todo[-1]
            save_record(record, out)
            bar.set_postfix(**postfix(unit))
            bar.update(1)
    return record


# --------------------------------------------------------------------------- reading a study


def tau_table(record: Mapping[str, Any]) -> dict[str, dict[int, list[float]]]:
    """{ranker: {size: [τ per seed]}} from a study record."""
    out: dict[str, dict[int, list[float]]] = {name: {} for name in RANKERS}
    for u in record["units"]:
        for name in RANKERS:
            out[name].setdefault(u["size"], []).append(u["tau"][name])
    return out


def ranking_verdicts(record: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """NAR's ranking claim, decided per training-set size: {size: {"nar": mean τ, "rival":
    the other ranker with the best mean τ, "rival_tau": its mean, "wins": seeds in which NAR's
    τ beats the rival's, "seeds": seeds, "verdict": one line}}. A lead on the mean that not
    every seed shows is reported as such, not as a win: with three seeds, a mean can move
    by more than the gap between two rankers."""
    taus = tau_table(record)
    out: dict[int, dict[str, Any]] = {}
    for n in sorted(taus["NAR"]):
        nar_taus = np.asarray(taus["NAR"][n])
        rival = max((name for name in RANKERS if name != "NAR"), key=lambda k: np.mean(taus[k][n]))
        rival_taus = np.asarray(taus[rival][n])
        nar_mean, rival_mean = float(nar_taus.mean()), float(rival_taus.mean())
        wins, seeds = int((nar_taus > rival_taus).sum()), len(nar_taus)
        if nar_mean <= rival_mean:
            verdict = f"not reproduced: {rival} {rival_mean:.3f} >= NAR {nar_mean:.3f}"
        elif wins == seeds:
            verdict = (f"NAR ahead in every seed ({wins}/{seeds}): {nar_mean:.3f} vs "
                       f"{rival} {rival_mean:.3f}")
        else:
            verdict = (f"NAR ahead on the mean ({nar_mean:.3f} vs {rival} {rival_mean:.3f}) but "
                       f"in only {wins} of {seeds} seeds: not a clear win")
        out[n] = {"nar": nar_mean, "rival": rival, "rival_tau": rival_mean, "wins": wins,
                  "seeds": seeds, "verdict": verdict}
    return out


def search_curves(record: Mapping[str, Any], dataset: str = "cifar10") -> dict[str, np.ndarray]:
    """{searcher: (seeds, queries) best-so-far test accuracy on ``dataset``}."""
    if dataset not in nb201.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(nb201.DATASETS)}")
    units = [u for u in record["units"] if "search" in u]
    return {name: np.array([u["search"]["curves"][name][dataset] for u in units])
            for name in SEARCHERS}


def search_cells(config: Mapping[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training cells, search pool) of the search made with training seed ``seed``, redrawn
    exactly as ``run_unit`` drew them (benchmark indices)."""
    held_out, cells = _drawn_cells(config, max(config["sizes"]), seed)
    # search_with_ranker draws its pool the same way from the cells run_unit excludes
    pool = nar.sample_cells(config["pool"], seed=seed, exclude=np.concatenate([cells, held_out]))
    return cells, pool


def optimum_hits(record: Mapping[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """{searcher: {dataset: {"queried": seeds whose queries include an optimum of the
    dataset, "in_pool": seeds whose pool held one (what a ranker could find at best),
    "in_training": seeds whose training cells held one, "seeds": seeds}}}. An optimum is any
    cell tied at the best accuracy (`nb201.optima`: CIFAR-10 has two). Random search has no
    pool: its "in_pool" counts the seeds whose untried cells held one (every seed whose
    training cells did not hold them all)."""
    units = [u for u in record["units"] if "search" in u]
    drawn = [search_cells(record["config"], u["seed"]) for u in units]
    out: dict[str, dict[str, dict[str, int]]] = {}
    for ds in nb201.DATASETS:
        best = {e.index for e in nb201.optima(ds)}
        hit = lambda cells: bool(best & {int(c) for c in cells})   # noqa: E731
        in_training = sum(hit(cells) for cells, _ in drawn)
        untried = sum(bool(best - {int(c) for c in cells}) for cells, _ in drawn)
        for name in SEARCHERS:
            in_pool = untried if name == "random search" else sum(hit(pool) for _, pool in drawn)
            out.setdefault(name, {})[ds] = {
                "queried": sum(hit(u["search"]["queried"][name]) for u in units),
                "in_pool": in_pool, "in_training": in_training, "seeds": len(units)}
    return out


def _mean_std(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if v.size > 1 else f"{v.mean():.3f}"


def tau_summary_table(record: Mapping[str, Any]):
    """Kendall τ on the held-out cells: one row per training-set size, mean ± std over seeds."""
    from .tables import make_table
    taus = tau_table(record)
    sizes = sorted({u["size"] for u in record["units"]})
    rows = [[f"{n:,}", str(len(taus["NAR"][n]))] + [_mean_std(taus[name][n]) for name in RANKERS]
            for n in sizes]
    held = record["config"]["held_out"]
    return make_table(["training cells", "seeds", *RANKERS], rows, notes=[
        f"Kendall τ between predicted scores and CIFAR-10 test accuracy of {held:,} held-out "
        f"cells; rankers trained on CIFAR-10 validation accuracy; mean ± sample std over seeds."])


def search_summary_table(record: Mapping[str, Any]):
    """Best test accuracy found after all queries, per searcher and dataset, and how many
    seeds queried each dataset's optimum."""
    from .tables import make_table
    hits = optimum_hits(record)
    rows = []
    for name in SEARCHERS:
        row = [name]
        for ds in nb201.DATASETS:
            best = search_curves(record, ds)[name][:, -1]
            h = hits[name][ds]
            found = (f" ({h['queried']}/{h['seeds']})" if name == "random search"
                     else f" ({h['queried']}/{h['seeds']}, in pool {h['in_pool']})")
            row.append((f"{best.mean():.2f} ± {best.std(ddof=1):.2f}" if best.size > 1
                        else f"{best.mean():.2f}") + found)
        rows.append(row)
    rows.append(["benchmark optimum"] + [f"{nb201.accuracy(nb201.optimum(ds).index, ds):.2f}"
                                         for ds in nb201.DATASETS])
    cfg = record["config"]
    return make_table(["searcher", *(f"{ds} test (%)" for ds in nb201.DATASETS)], rows, notes=[
        f"Best test accuracy among {cfg['queries']} queried cells (of a random pool of "
        f"{cfg['pool']:,} untried cells, ranked by each ranker trained on "
        f"{max(cfg['sizes']):,} cells; random search draws {cfg['queries']} cells), mean ± std "
        f"over seeds; in brackets: seeds whose queries included the dataset's optimum (any "
        f"cell tied at the best accuracy), and seeds whose pool held it at all (the most a "
        f"ranker could find). Every "
        f"ranker was trained on CIFAR-10 validation accuracy, so CIFAR-100 and ImageNet16-120 "
        f"are a transfer. The {max(cfg['sizes']):,} training cells are queries too."])

