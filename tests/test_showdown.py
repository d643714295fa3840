"""The showdown's record loader and summaries (nas_kit.showdown)."""
import json
import statistics

import pytest
import torch

import nas_kit
from nas_kit import analysis, nb201, showdown
from nas_kit.records import RecordError, save_record
from tests.support import tiny_data

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
BEST = nb201.optimum("cifar10").arch


@pytest.fixture(scope="module")
def nb201_record():
    return nas_kit.search(method="darts", space="nb201", dataset=tiny_data(), profile="smoke",
                          seed=0, progress=False, device="cpu")


@pytest.fixture(scope="module")
def recipe_records():
    """Real smoke searches of three methods: each config is its method's recipe."""
    return {m: nas_kit.search(method=m, space="nb201", dataset=tiny_data(), profile="smoke", seed=0,
                              progress=False, device="cpu")
            for m in ("darts", "pc-darts", "rf-darts")}


@pytest.fixture(scope="module")
def darts_record():
    return nas_kit.search(method="darts", space="darts", dataset=tiny_data(), profile="smoke",
                          seed=0, progress=False, device="cpu", epochs=1, layers=3)


def variant(record, *, method=None, seed=0, genotype=None, seconds=None, **extra):
    """A copy of a real record as another (method, seed) with a chosen final genotype."""
    out = {**record, "seed": seed, "config": {**record["config"], "seed": seed}, **extra}
    if method is not None:
        out["method"] = method
        out["config"] = {**out["config"], "method": method}
    if genotype is not None:
        out["genotype"] = genotype
    if seconds is not None:
        out["total_seconds"] = seconds
    return out


def store(root, record):
    path = showdown.record_dir(root, record["method"], record["space"], record["seed"])
    save_record(record, path / "record.json")
    return path / "record.json"


def test_collect_keys_records_by_content_and_lists_what_is_missing(tmp_path, recipe_records):
    store(tmp_path, variant(recipe_records["darts"], seed=0))
    store(tmp_path, variant(recipe_records["darts"], seed=1))
    # a flat file name, as benchmark scripts store them: the key comes from the content
    save_record(variant(recipe_records["pc-darts"], seed=2), tmp_path / "pc-darts-nb201-s2.json")
    save_record(variant(recipe_records["rf-darts"], seed=0, complete=False),
                tmp_path / "stopped" / "record.json")
    found = showdown.collect(tmp_path)
    assert sorted(found.search) == [("darts", "nb201", 0), ("darts", "nb201", 1), ("pc-darts", "nb201", 2)]
    assert found.paths[("pc-darts", "nb201", 2)] == tmp_path / "pc-darts-nb201-s2.json"
    assert list(found.incomplete) == [("rf-darts", "nb201", 0)]
    assert found.variants == {}
    gaps = showdown.missing(found, methods=("darts", "pc-darts", "rf-darts"), spaces=("nb201",),
                            seeds=(0, 1, 2))
    assert gaps == [("darts", "nb201", 2), ("pc-darts", "nb201", 0), ("pc-darts", "nb201", 1),
                    ("rf-darts", "nb201", 0), ("rf-darts", "nb201", 1), ("rf-darts", "nb201", 2)]
    text = showdown.describe_missing(gaps, found.incomplete)
    assert text.splitlines() == ["nb201: darts, seed 2", "nb201: pc-darts, seed 0, 1",
                                 "nb201: rf-darts, seed 0, 1, 2 (seed 0 stopped early)"]
    assert len(showdown.missing(showdown.collect(tmp_path / "absent"))) == 7 * 2 * 3


def test_ablations_stored_beside_the_recipes_are_set_aside(tmp_path, recipe_records):
    plain = recipe_records["darts"]
    store(tmp_path, plain)
    conv_only = {**plain, "config": {**plain["config"], "trainable": "conv_only", "engine": "eager"}}
    save_record(conv_only, tmp_path / "darts-convonly-nb201-s0.json")
    # a config key the record predates is not a difference; an execution key never is
    older = {**plain, "seed": 1, "config": {k: v for k, v in plain["config"].items() if k != "augment"}}
    older["config"] = {**older["config"], "seed": 1, "engine": "eager"}
    save_record(older, tmp_path / "older.json")
    assert showdown.recipe_differences(conv_only) == ["trainable"]
    assert showdown.recipe_differences(older) == []
    found = showdown.collect(tmp_path)
    assert sorted(found.search) == [("darts", "nb201", 0), ("darts", "nb201", 1)]
    assert found.variants == {tmp_path / "darts-convonly-nb201-s0.json": ["trainable"]}
    with pytest.raises(ValueError, match="two records for method 'darts', space 'nb201', seed 0"):
        showdown.collect(tmp_path, recipes_only=False)


def test_collect_refuses_edited_and_duplicate_records(tmp_path, nb201_record):
    path = store(tmp_path / "a", variant(nb201_record, seed=0))
    data = json.loads(path.read_text())
    data["genotype"] = BEST   # a hand edit that would flatter the method
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="checksum mismatch"):
        showdown.collect(tmp_path / "a")
    store(tmp_path / "b", variant(nb201_record, seed=0))
    save_record(variant(nb201_record, seed=0), tmp_path / "b" / "copy" / "record.json")
    with pytest.raises(ValueError, match=r"two records for method 'darts', space 'nb201', seed 0"):
        showdown.collect(tmp_path / "b")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        showdown.collect(tmp_path / "file")


def test_nb201_summary_is_the_benchmark_accuracy_of_each_final_cell(nb201_record):
    records = [variant(nb201_record, seed=0, genotype=ALL_SKIP, seconds=10.0),
               variant(nb201_record, seed=1, genotype=BEST, seconds=14.0),
               variant(nb201_record, seed=2, genotype=BEST, seconds=12.0),
               variant(nb201_record, method="pc-darts", seed=5, genotype=BEST, seconds=3.0)]
    darts, pc = showdown.summarise_nb201(list(reversed(records)))
    assert (darts.method, darts.seeds, pc.method, pc.seeds) == ("darts", (0, 1, 2), "pc-darts", (5,))
    worst, best = nb201.lookup(ALL_SKIP), nb201.lookup(BEST)
    assert darts.accuracy["cifar10"] == (worst.cifar10_test, best.cifar10_test, best.cifar10_test)
    assert darts.accuracy["imagenet16-120"][0] == worst.imagenet16_test
    assert darts.skips == (6, best.genotype.skip_count(), best.genotype.skip_count())
    assert darts.seconds == (10.0, 14.0, 12.0)
    assert darts.peak_bytes == (None, None, None)     # searched on CPU: recorded as None
    mean, std = showdown.mean_std(darts.accuracy["cifar10"])
    assert mean == pytest.approx(statistics.fmean(darts.accuracy["cifar10"]))
    assert std == pytest.approx(statistics.stdev(darts.accuracy["cifar10"]))
    assert showdown.mean_std([3.0]) == (3.0, None)


def test_seeds_that_differ_in_more_than_the_seed_are_not_averaged(nb201_record):
    eager = variant(nb201_record, seed=2)
    eager["config"] = {**eager["config"], "engine": "eager"}   # how, not what: may differ
    assert showdown.summarise_nb201([variant(nb201_record, seed=0), eager])[0].seeds == (0, 2)
    graphed = variant(nb201_record, seed=1)
    graphed["config"] = {**graphed["config"], "cuda_graphs": True}
    assert showdown.recipe_differences(graphed) == []        # a record made with CUDA graphs
    assert showdown.summarise_nb201([variant(nb201_record, seed=0), graphed])[0].seeds == (0, 1)
    odd = variant(nb201_record, seed=1)
    odd["config"] = {**odd["config"], "epochs": 7}
    with pytest.raises(ValueError, match=r"darts/nb201: seeds 0 and 1 differ in config \['epochs'\]"):
        showdown.summarise_nb201([variant(nb201_record, seed=0), odd])
    with pytest.raises(ValueError, match="differ in profile"):
        showdown.summarise_nb201([variant(nb201_record, seed=0), variant(nb201_record, seed=1, profile="paper")])
    with pytest.raises(ValueError, match="this summary needs 'nb201'"):
        showdown.summarise_nb201([variant(nb201_record, space="darts")])


def test_nb201_table_sets_paper_numbers_and_optimum_beside_ours(nb201_record):
    records = [variant(nb201_record, seed=s, genotype=BEST, seconds=100.0 + s) for s in (0, 1)]
    records.append(variant(nb201_record, method="fair-darts", seed=0, genotype=ALL_SKIP))
    summaries = showdown.summarise_nb201(records)
    table = str(showdown.nb201_table(summaries))
    lines = table.splitlines()
    darts_row = next(line for line in lines if line.startswith("| darts |"))
    assert f"| {best_c10():.2f} ± 0.00 | 54.30 ± 0.00 |" in darts_row
    steps = analysis.alpha_updates(records[0])[-1]
    assert steps > 0 and darts_row.startswith(f"| darts | 0, 1 | {steps}, {steps} |")
    assert "α-steps: architecture updates each seed's search made" in table
    assert "| 10,890 |" in darts_row and "| n/a (CPU) |" in darts_row
    fair_row = next(line for line in lines if line.startswith("| fair-darts |"))
    assert fair_row.count("n/r") == 4     # three datasets + search time: Fair DARTS has no NB201 result
    optimum = next(line for line in lines if line.startswith("| benchmark optimum |"))
    assert "| 94.37 | 94.37 |" in optimum and "| 73.51 | 73.51 |" in optimum
    assert "[1] NAS-Bench-201 paper" in table
    measured = showdown.summarise_nb201(records[:2], peak_memory={("darts", "nb201", 0): 3 * 2**30,
                                                                   ("darts", "nb201", 1): 2**30})
    assert "| 3.00 GiB |" in str(showdown.nb201_table(measured))
    on_cpu = showdown.summarise_nb201(records[:2], peak_memory={})
    assert "| n/a (CPU) |" in str(showdown.nb201_table(on_cpu))
    assert "†" not in table                 # no record says the GPU was shared


def test_nb201_table_marks_search_time_on_a_shared_gpu(nb201_record):
    shared = variant(nb201_record, seed=1, genotype=BEST)
    shared["history"] = [{**e, "concurrent_runs": 3} for e in shared["history"]]
    summaries = showdown.summarise_nb201([variant(nb201_record, seed=0, genotype=BEST), shared])
    assert summaries[0].shared_gpu == 3
    table = str(showdown.nb201_table(summaries))
    darts_row = next(line for line in table.splitlines() if line.startswith("| darts |"))
    assert " †" in darts_row and "up to 3 searches shared the GPU" in table


def with_peaks(record, gib_per_epoch):
    """The record as if searched on a GPU (``None`` drops the field: an older record)."""
    history = [{k: v for k, v in e.items() if k != "peak_memory_gib"} for e in record["history"]]
    if gib_per_epoch is not None:
        history = [{**e, "peak_memory_gib": g} for e, g in zip(history, gib_per_epoch)]
    return {**record, "history": history}


def test_peak_memory_is_the_largest_epoch_high_water_mark_of_each_record(nb201_record):
    assert len(nb201_record["history"]) == 2
    gpu = [with_peaks(variant(nb201_record, seed=s), g) for s, g in ((0, [1.5, 2.5]), (1, [0.25, 0.5]))]
    assert showdown.record_peak_bytes(gpu[0]) == round(2.5 * 2**30)
    summary, = showdown.summarise_nb201(gpu)
    assert summary.peak_bytes == (round(2.5 * 2**30), round(0.5 * 2**30))
    assert "| 2.50 GiB |" in str(showdown.nb201_table([summary]))
    older = [with_peaks(variant(nb201_record, seed=s), None) for s in (0, 1)]
    with pytest.raises(KeyError):
        showdown.record_peak_bytes(older[0])
    summary, = showdown.summarise_nb201(older)
    assert summary.peak_bytes is None
    assert "| not in record |" in str(showdown.nb201_table([summary]))


def best_c10():
    return nb201.optimum("cifar10").cifar10_test


def test_darts_cells_count_the_protocol_network_and_report_empty_cells(darts_record):
    v2 = variant(darts_record, seed=0, genotype=str(nas_kit.published("DARTS_V2")))
    empty = variant(darts_record, method="fair-darts", seed=0,
                    genotype="Genotype(normal=[], normal_concat=[], reduce=[], reduce_concat=[])")
    cells = showdown.darts_cells([empty, v2])
    assert [c.method for c in cells] == ["darts", "fair-darts"]
    assert cells[0].complexity.params == 3_349_342
    assert (cells[0].normal_skips, cells[0].reduce_skips) == (2, 3)
    assert cells[1].complexity is None and "no output" in cells[1].note
    table = str(showdown.darts_table(cells, trained={("darts", "darts", 0): 55.5}))
    darts_row = next(line for line in table.splitlines() if line.startswith("| darts |"))
    assert "| 3.349 |" in darts_row and "| 55.50 |" in darts_row and "| 3.00 |" in darts_row
    fair_row = next(line for line in table.splitlines() if line.startswith("| fair-darts |"))
    assert "(1 seed(s) without a network)" in fair_row
    # no network: no skip count ("0" would read as "avoids skips"), and the footnote says why
    assert fair_row.startswith(f"| fair-darts | 0 | {cells[1].alpha_steps} | – | – |")
    assert "–: the derived cell builds no network" in table
    assert cells[0].alpha_steps == analysis.alpha_updates(v2)[-1] > 0
    assert f"| darts | 0 | {cells[0].alpha_steps} | 2 | 3 |" in darts_row
    fig = showdown.plot_darts(cells)
    assert len(fig.axes[0].collections[1].get_offsets()) == 0      # fair-darts: no dot at 0
    assert "1 without" in " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "| n/a (CPU) |" in darts_row
    on_gpu = showdown.darts_cells([with_peaks(v2, [0.75])])
    assert on_gpu[0].peak_bytes == round(0.75 * 2**30)
    assert "| 768 MiB |" in str(showdown.darts_table(on_gpu))
    assert "| not in record |" in str(showdown.darts_table(showdown.darts_cells([with_peaks(v2, None)])))


def test_published_table_counts_the_released_cells():
    table = str(showdown.published_table())
    fair = next(line for line in table.splitlines() if line.startswith("| fair-darts |"))
    assert "| FairDARTS_a | 0 | 2.361 | 371.5 |" in fair and "| 373 |" in fair
    rf = next(line for line in table.splitlines() if line.startswith("| rf-darts |"))
    assert "none released" in rf


def test_format_mean_std():
    assert showdown.format_mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00"
    assert showdown.format_mean_std([94.37]) == "94.37"
    assert showdown.format_mean_std([]) == "–"


def test_run_cell_writes_the_record_where_collect_finds_it(tmp_path):
    run = showdown.run_cell("pc-darts", "nb201", 3, tiny_data(), profile="smoke", out_root=tmp_path,
                            device="cpu")
    assert run.key == ("pc-darts", "nb201", 3) and run.peak_bytes is None   # CPU: not measured
    assert (showdown.record_dir(tmp_path, "pc-darts", "nb201", 3) / "record.json").is_file()
    assert showdown.collect(tmp_path).search[run.key]["genotype"] == run.record["genotype"]
    caption = showdown.provenance([run.record])
    assert caption.startswith("1 record(s) · profile smoke · data synthetic (nas_kit, seed 0) · device ")
    assert showdown.provenance([]) == "no records"
    with pytest.raises(ValueError, match="unknown space 'nb101'; valid: nb201, darts"):
        showdown.run_cell("darts", "nb101", 0, tiny_data())


def test_figures_draw_one_point_per_seed(nb201_record, darts_record):
    summaries = showdown.summarise_nb201([variant(nb201_record, seed=s, genotype=BEST) for s in (0, 1, 2)])
    fig = showdown.plot_nb201(summaries, title="t")
    assert len(fig.axes) == 3
    dots = fig.axes[0].collections[0].get_offsets()
    assert len(dots) == 3 and all(y == pytest.approx(best_c10()) for _, y in dots)
    cells = showdown.darts_cells([variant(darts_record, seed=0, genotype=str(nas_kit.published("DARTS_V1")))])
    fig = showdown.plot_darts(cells)
    assert fig.axes[0].collections[0].get_offsets()[0][1] == 3   # DARTS_V1 has 3 skips


def test_verdicts_judge_only_paper_profile_runs(nb201_record):
    at_paper = [variant(nb201_record, seed=s, genotype=ALL_SKIP, profile="paper") for s in (0, 1, 2)]
    at_paper += [variant(nb201_record, method="pc-darts", seed=s, genotype=BEST, profile="paper")
                 for s in (0, 1)]
    at_paper.append(variant(nb201_record, method="fair-darts", seed=0, genotype=BEST, profile="paper"))
    lines = showdown.verdicts(showdown.summarise_nb201(at_paper))
    darts_c10 = next(line for line in lines if line.startswith("darts, CIFAR-10"))
    # the all-skip cell is what the NB201 paper reports for DARTS: 54.30 ± 0.00
    assert ": reproduced (difference -0.00 pp, allowed ±0.50)" in darts_c10
    pc_c10 = next(line for line in lines if line.startswith("pc-darts, CIFAR-10"))
    assert "not reproduced (difference +0.96 pp, allowed ±0.60)" in pc_c10    # 94.37 vs 93.41 ± 0.30
    assert "fair-darts, CIFAR-10: no paper number to compare with" in lines
    smoke = showdown.verdicts(showdown.summarise_nb201([variant(nb201_record, seed=0)]))
    assert smoke == ["darts: smoke profile, a budget below the paper's - not a test of the paper's claim"]
    # a cell with no op kept (Fair DARTS before any σ reached 0.85) is the budget's doing
    none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    small = [variant(nb201_record, method="fair-darts", seed=s, genotype=g)
             for s, g in ((0, none), (1, BEST))]
    steps = nas_kit.analysis.alpha_updates(small[0])[-1]
    assert steps > 0
    (line,) = showdown.verdicts(showdown.summarise_nb201(small))
    assert line.startswith("fair-darts: smoke profile, a budget below the paper's")
    assert f"; seed 0: an all-none cell after {steps} α-steps, no op weight reached" in line
    (line,) = showdown.verdicts(showdown.summarise_nb201(
        [variant(nb201_record, method="fair-darts", seed=seed, genotype=none) for seed in (0, 1)]))
    assert f"; seeds 0, 1: an all-none cell after {steps} α-steps," in line
    at_paper = [variant(nb201_record, method="fair-darts", seed=0, genotype=none, profile="paper")]
    assert not any("all-none" in x for x in showdown.verdicts(showdown.summarise_nb201(at_paper)))


def test_stored_training_links_train_records_to_the_searches_of_their_genotype(tmp_path, darts_record):
    v1 = str(nas_kit.published("DARTS_V1"))
    store(tmp_path, variant(darts_record, seed=0, genotype=v1))
    store(tmp_path, variant(darts_record, method="pc-darts", seed=0,
                            genotype=str(nas_kit.published("PC_DARTS_cifar"))))
    # the smoke DARTS record was made with a smaller budget: keep it (recipes_only=False)
    assert showdown.stored_training(showdown.collect(tmp_path, recipes_only=False)) == ({}, None)
    accs = []
    for seed in (0, 1):
        trained = nas_kit.train("DARTS_V1", space="darts", dataset=(tiny_data(), tiny_data()),
                                profile="smoke", seed=seed, progress=False, device="cpu",
                                layers=3, limit=32, test_limit=32)
        save_record(trained, tmp_path / "train" / f"seed{seed}" / "record.json")
        accs.append(trained["test_acc"])
    found = showdown.collect(tmp_path, recipes_only=False)
    assert len(found.train) == 2 and len(found.search) == 2
    by_key, label = showdown.stored_training(found)
    assert by_key == {("darts", "darts", 0): pytest.approx(statistics.fmean(accs))}
    assert label == "test acc % after 1 epoch(s), C=8, 3 cells, 32 images"
    other = nas_kit.train("DARTS_V1", space="darts", dataset=(tiny_data(), tiny_data()),
                          profile="smoke", progress=False, device="cpu", layers=4, limit=32,
                          test_limit=32)
    save_record(other, tmp_path / "train" / "bigger" / "record.json")
    with pytest.raises(ValueError, match=r"stored train records differ in \['layers'\]"):
        showdown.stored_training(showdown.collect(tmp_path, recipes_only=False))


def test_tables_render_as_markdown_and_escaped_html():
    table = showdown.Table(("a", "b"), (("1 | 2", "<x> & y"),), ("[1] a note",))
    assert table.markdown() == "| a | b |\n|---|---|\n| 1 \\| 2 | <x> & y |\n\n[1] a note"
    assert table._repr_html_() == ('<table class="table"><thead><tr><th>a</th><th>b</th></tr>'
                                   "</thead><tbody><tr><td>1 | 2</td><td>&lt;x&gt; &amp; y</td>"
                                   "</tr></tbody></table><p>[1] a note</p>")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="peak memory is measured on CUDA only")
def test_run_cell_measures_peak_gpu_memory_on_cuda():
    run = showdown.run_cell("darts", "nb201", 0, tiny_data(), profile="smoke", device="cuda")
    # at least the supernet's weights were on the GPU during the search
    assert run.peak_bytes >= 4 * run.record["num_weights"]
    # the high-water mark was reset before the search: the record holds this search's peak
    assert 0 < showdown.record_peak_bytes(run.record) <= run.peak_bytes * (1 + 1e-6)
    table = str(showdown.nb201_table(showdown.summarise_nb201([run.record])))
    assert "n/a (CPU)" not in table and ("MiB" in table or "GiB" in table)
