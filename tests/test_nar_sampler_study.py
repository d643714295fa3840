"""The stored NAR sampler study: the same NAR as the ranking study, three searchers, resume,
record checks and the readers chapter 7 uses."""
import dataclasses
import json

import numpy as np
import pytest

from nas_kit import nar, nar_sampler, nar_sampler_study as study_mod, nar_study, nb201
from nas_kit.records import RecordError


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("nar_sampler") / "study.json"
    config = study_mod.study_config("smoke", train_seeds=[0])
    return out, config, study_mod.run_study(config, out, progress=False)


def test_study_writes_a_checked_record_with_every_sampler_setting(study):
    out, config, record = study
    assert study_mod.load_study(out) == json.loads(out.read_text())
    assert record["format"] == study_mod.STUDY_FORMAT and record["complete"]
    assert [u["seed"] for u in record["units"]] == [0]
    fields = {f.name for f in dataclasses.fields(nar_sampler.SamplerConfig)}
    assert set(record["config"]["sampler"]) == fields
    assert record["config"]["sampler"]["iterations"] == 4 and record["config"]["sampler"]["batch_size"] == 32
    assert record["total_seconds"] == record["units"][0]["seconds"] > 0


def test_searchers_query_only_untried_cells_and_curves_are_best_so_far(study):
    _, config, record = study
    unit = record["units"][0]
    held_out, cells = nar_study._drawn_cells(config, config["size"], 0)
    tried = set(held_out.tolist()) | set(cells.tolist())
    queried = unit["search"]["queried"]
    assert set(queried) == set(study_mod.SEARCHERS)
    cap = config["sampler"]["iterations"] * config["sampler"]["top_k"]
    for name, ix in queried.items():
        assert len(ix) == len(set(ix)) and not tried & set(ix)
        for ds in nb201.DATASETS:
            expected = np.maximum.accumulate(nar.accuracies(np.array(ix, dtype=np.int64), ds, "test"))
            np.testing.assert_allclose(unit["search"]["curves"][name][ds], expected, rtol=1e-6)
    assert 0 < len(queried["tier-guided sampler"]) <= cap and len(queried["uniform sampler"]) <= cap
    assert len(queried["random search"]) == max(len(queried[s]) for s in study_mod.SAMPLERS)
    # the logs: one entry per iteration; only the uniform sampler never drew from the top tier
    logs = unit["sampler_log"]
    assert [len(logs[s]) for s in study_mod.SAMPLERS] == [4, 4]
    assert not any(e[f"guided_{k}"] for e in logs["uniform sampler"] for k in ("ops", "flops", "params"))
    assert logs["tier-guided sampler"][-1]["queries"] == len(queried["tier-guided sampler"])
    assert sum(e[f"guided_{k}"] for e in logs["tier-guided sampler"] for k in ("ops", "flops", "params")) > 0


def test_its_nar_is_the_ranking_studys_nar_of_the_same_cells_and_seed(study):
    _, config, record = study
    ranking = nar_study.study_config("smoke", sizes=[config["size"]], epochs=config["epochs"],
                                     train_seeds=[0], queries=5, pool=50)
    unit = nar_study.run_unit(ranking, config["size"], 0)
    assert unit["tau"]["NAR"] == record["units"][0]["tau_nar"]
    assert unit["nar_history"] == record["units"][0]["nar_history"]


def test_the_paper_study_trains_the_ranking_studys_nar_with_the_released_sampler():
    paper, ranking = study_mod.study_config("paper"), nar_study.study_config("paper")
    assert paper["size"] == max(ranking["sizes"]) == 1000
    assert {k: paper[k] for k in ("train_seeds", "held_out", "epochs", "model")} == \
        {k: ranking[k] for k in ("train_seeds", "held_out", "epochs", "model")}
    released = dataclasses.asdict(nar_sampler.SamplerConfig())
    assert paper["sampler"] == {k: list(v) if isinstance(v, tuple) else v for k, v in released.items()}


def test_readers(study):
    _, _, record = study
    unit = record["units"][0]
    c = study_mod.curves(record, "cifar100")
    assert [len(v) for v in c.values()] == [1, 1, 1]
    assert c["random search"][0].tolist() == unit["search"]["curves"]["random search"]["cifar100"]
    g = study_mod.guidance(record)
    log = unit["sampler_log"]["tier-guided sampler"]
    assert g["tier-guided sampler"]["flops"] == sum(e["guided_flops"] for e in log)
    assert g["uniform sampler"]["predicted_tier0"] == np.mean(
        [e["predicted_tier0"] for e in unit["sampler_log"]["uniform sampler"]])
    # an optimum among the queries counts as a hit for that searcher only
    hit = json.loads(json.dumps(record))
    hit["units"][0]["search"]["queried"]["uniform sampler"].append(nb201.optimum("imagenet16-120").index)
    hits = study_mod.optimum_hits(hit)
    assert hits["uniform sampler"]["imagenet16-120"] == 1
    assert hits["random search"]["imagenet16-120"] == study_mod.optimum_hits(record)["random search"]["imagenet16-120"]
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        study_mod.curves(record, "svhn")


def test_summary_table_counts_seeds_whose_searcher_queried_nothing(study):
    _, _, record = study
    two = json.loads(json.dumps(record))
    second = json.loads(json.dumps(record["units"][0]))
    second["seed"] = 1
    second["search"]["queried"]["uniform sampler"] = []
    second["search"]["curves"]["uniform sampler"] = {ds: [] for ds in nb201.DATASETS}
    two["units"].append(second)
    rows = {row[0]: row for row in study_mod.summary_table(two).rows}
    best = record["units"][0]["search"]["curves"]
    assert rows["uniform sampler"][2] == f"{best['uniform sampler']['cifar10'][-1]:.2f} [1 of 2 seeds] (0/2)"
    assert rows["tier-guided sampler"][2] == f"{best['tier-guided sampler']['cifar10'][-1]:.2f} ± 0.00 (0/2)"
    one = {**two, "units": [second]}
    assert study_mod.summary_table(one).rows[1][2] == "no query (0/1)"
    with pytest.raises(ValueError, match="no finished unit"):
        study_mod.summary_table({**record, "units": []})


def _with_best(unit, seed, best):
    """A copy of ``unit`` as seed ``seed`` whose searchers' CIFAR-10 curves end at ``best``
    ({searcher: last value, or None for a searcher that queried nothing})."""
    unit = json.loads(json.dumps(unit))
    unit["seed"] = seed
    for name, value in best.items():
        unit["search"]["curves"][name]["cifar10"] = [] if value is None else [50.0, value]
    return unit


def test_best_found_and_head_to_head_count_seeds_by_their_best_cell(study):
    _, _, record = study
    guided, uniform, rand = study_mod.SEARCHERS
    unit = record["units"][0]
    two = {**record, "units": [_with_best(unit, 0, {guided: 94.0, uniform: 93.5, rand: 93.5}),
                               _with_best(unit, 1, {guided: None, uniform: 93.0, rand: 99.0})]}
    assert study_mod.best_found(two) == {guided: [94.0, None], uniform: [93.5, 93.0], rand: [93.5, 99.0]}
    # seed 0: a tie between two different searchers; seed 1: random search ahead
    assert study_mod.head_to_head(two, uniform, rand) == {"wins": 0, "ties": 1, "losses": 1, "seeds": 2}
    assert study_mod.head_to_head(two, rand, uniform) == {"wins": 1, "ties": 1, "losses": 0, "seeds": 2}
    # the seed whose guided sampler queried nothing lands in no column, on either side
    assert study_mod.head_to_head(two, guided, rand) == {"wins": 1, "ties": 0, "losses": 0, "seeds": 2}
    assert study_mod.head_to_head(two, rand, guided) == {"wins": 0, "ties": 0, "losses": 1, "seeds": 2}
    # the other datasets are read from their own curves
    c100 = [u["search"]["curves"][uniform]["cifar100"][-1] for u in two["units"]]
    assert study_mod.best_found(two, "cifar100")[uniform] == c100
    with pytest.raises(ValueError, match="unknown searcher 'NAR'"):
        study_mod.head_to_head(two, "NAR", rand)
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        study_mod.head_to_head(two, guided, rand, "svhn")


def test_resume_adds_seeds_without_repeating_and_refuses_another_configuration(study, tmp_path, monkeypatch):
    out, config, record = study
    copy = tmp_path / "study.json"
    copy.write_text(out.read_text())
    calls = []
    monkeypatch.setattr(study_mod, "run_unit", lambda cfg, seed, device="cpu": calls.append(seed) or
                        {**record["units"][0], "seed": seed})
    more = study_mod.run_study({**config, "train_seeds": [0, 5]}, copy, resume=True, progress=False)
    assert calls == [5] and [u["seed"] for u in more["units"]] == [0, 5] and more["complete"]
    assert len(more["env_history"]) == 1
    saved = copy.read_text()
    again = study_mod.run_study({**config, "train_seeds": [0, 5]}, copy, resume=True, progress=False)
    assert calls == [5] and copy.read_text() == saved and len(again["env_history"]) == 1
    with pytest.raises(FileExistsError, match="resume"):
        study_mod.run_study(config, copy, progress=False)
    other = study_mod.study_config("smoke", train_seeds=[0], sampler={"top_k": 2})
    with pytest.raises(ValueError, match=r"differs in \['sampler'\]"):
        study_mod.run_study(other, copy, resume=True, progress=False)


def test_a_hand_built_config_is_stored_with_every_sampler_setting(study, tmp_path, monkeypatch):
    _, config, record = study
    monkeypatch.setattr(study_mod, "run_unit", lambda cfg, seed, device="cpu": {**record["units"][0], "seed": seed})
    partial = {**config, "sampler": {"iterations": 4, "batch_size": 32, "low_tiers": (3, 4)}}
    stored = study_mod.run_study(partial, tmp_path / "s.json", progress=False)
    assert stored["config"]["sampler"] == config["sampler"]        # all fields, lists as JSON has them
    resumed = study_mod.run_study({**partial, "train_seeds": [0, 1]}, tmp_path / "s.json", resume=True,
                                  progress=False)
    assert [u["seed"] for u in resumed["units"]] == [0, 1]


def test_edited_or_foreign_record_is_refused(study, tmp_path):
    out, _, _ = study
    edited = json.loads(out.read_text())
    edited["units"][0]["tau_nar"] = 0.99
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(RecordError, match="checksum"):
        study_mod.load_study(tmp_path / "edited.json")
    with pytest.raises(RecordError, match="not a NAR sampler study"):
        study_mod.load_study(_ranking_study(tmp_path))


def _ranking_study(tmp_path):
    path = tmp_path / "ranking.json"
    nar_study.run_study(nar_study.study_config("smoke", sizes=[20], train_seeds=[0], held_out=60,
                                               epochs=1, queries=3, pool=20), path, progress=False)
    return path


@pytest.mark.parametrize("bad, match", [
    (dict(pool=10), r"unknown sampler-study key\(s\) \['pool'\]"),
    (dict(sampler={"top": 3}), r"unknown sampler setting\(s\) \['top'\]"),
    (dict(sampler=[1]), "sampler must be a dict"),
    (dict(sampler={"iterations": 0}), "iterations must be an integer >= 1, got 0"),
    (dict(sampler={"force_uniform": True}), "force_uniform is set per searcher"),
    (dict(train_seeds=[1, 1]), "distinct seeds"),
    (dict(dataset="cifar100"), "only for cifar10"),
    (dict(size=15325), "leave no cell"),
    (dict(sampler={"low_tiers": 3}), "low_tiers must be a list of tiers, got 3"),
    (dict(sampler={"low_tiers": [2, 5]}), r"low_tiers \[2, 5\] name tiers beyond NAR's 5"),
])
def test_bad_configuration_is_named(bad, match):
    with pytest.raises(ValueError, match=match):
        study_mod.study_config("smoke", **bad)


def test_unknown_study_is_named():
    with pytest.raises(ValueError, match="unknown NAR sampler study 'big'; valid: smoke, paper"):
        study_mod.study_config("big")


def test_cli_runs_a_study_and_the_showdown_sets_it_aside(tmp_path, capsys):
    from nas_kit import showdown
    from nas_kit.__main__ import main
    root = tmp_path / "records"
    root.mkdir()
    out = root / "nar-sampler-x.json"
    args = ["nar-sampler-study", "--study", "smoke", "--out", str(out), "--no-progress",
            "--set", "train_seeds=[1]", "--set", 'sampler={"iterations": 2}']
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| tier-guided sampler |" in printed and f"record: {out} (complete)" in printed
    record = study_mod.load_study(out)
    assert record["config"]["sampler"]["iterations"] == 2 and record["config"]["train_seeds"] == [1]
    assert showdown.collect(root).studies == [out] and not showdown.collect(root).search
    found, line = study_mod.load_stored("nar-sampler-x", root, fetch=False)
    assert found == record and "'smoke' budget, complete" in line and "training seeds [1]" in line
    missing, line = study_mod.load_stored("nar-sampler-y", root, fetch=False)
    assert missing is None and "python -m nas_kit nar-sampler-study --study paper" in line


def test_the_stored_sampler_study_is_the_paper_configuration():
    from support import assert_stored_study_is_paper
    assert_stored_study_is_paper(study_mod, lambda u: (u["seed"],))
