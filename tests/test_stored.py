"""Stored records: the chapters' plans, loading (checksums checked), fetching, the summary."""
import copy
import json
import shutil

import pytest

import nas_kit
from nas_kit import nb201, stored
from nas_kit.records import RecordError

from support import load_script, tiny_data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A complete NB201 and DARTS-space smoke search, and one stopped after epoch 1."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for method, space in (("darts", "nb201"), ("fair-darts", "darts")):
        out[space] = nas_kit.search(method, space, tiny_data(), profile="smoke", progress=False,
                                    device="cpu", out=root / space)
    cut = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", progress=False,
                                 device="cpu", seed=1, out=root / "cut")
    cut.run_epoch()
    out["cut"] = cut.record
    return root, out


def _store(root, runs_dir, name, which):
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(runs_dir / which / "record.json", root / f"{name}.json")


def test_plans_name_every_record_once_and_the_record_maker_uses_them():
    names = [r["name"] for r in stored.plan("ch02")]
    assert names == ["darts-nb201-s0", "darts-nb201-s1", "darts-nb201-s2", "darts-darts-s0"]
    assert stored.plan("ch02", "ch02") == stored.plan("ch02")
    assert "darts-e100-darts-s0" in [r["name"] for r in stored.plan("long")]
    assert len(stored.PLANS["all"]) == len({r["name"] for r in stored.PLANS["all"]})
    with pytest.raises(ValueError, match=r"unknown plan\(s\) \['ch9'\]; valid: ch02"):
        stored.plan("ch9")
    assert load_script("make_records").PLANS is stored.PLANS


def test_load_sorts_found_unfinished_and_missing(tmp_path, runs):
    runs_dir, _ = runs
    root = tmp_path / "records"
    _store(root, runs_dir, "darts-nb201-s0", "nb201")
    _store(root, runs_dir, "darts-nb201-s1", "cut")
    found = stored.load(stored.plan("ch02"), root, fetch=False)
    assert list(found.complete) == ["darts-nb201-s0"]
    assert list(found.partial) == ["darts-nb201-s1"]
    assert list(found.records) == ["darts-nb201-s0", "darts-nb201-s1"]   # both are shown
    assert stored.epochs_done(found.partial["darts-nb201-s1"]) == "1 of 2 epochs"
    assert stored.label("darts-nb201-s1", found.partial["darts-nb201-s1"]) == \
        "darts-nb201-s1.json (1 of 2 epochs)"
    assert stored.label("darts-nb201-s0", found.complete["darts-nb201-s0"]) == "darts-nb201-s0.json"
    assert found.missing == ["darts-nb201-s2", "darts-darts-s0"]
    report = found.report()
    assert "1 of 4 stored records found complete" in report
    assert "not made yet: darts-nb201-s2" in report
    assert "partial, shown with their epoch count: darts-nb201-s1 (1 of 2 epochs)" in report
    table = stored.summary_table(found.records)
    assert [row[4] for row in table.rows] == ["2 epochs", "1 of 2 epochs"]
    assert stored.load(["x"], tmp_path / "nowhere", fetch=False).missing == ["x"]


def test_a_stored_record_edited_by_hand_is_refused(tmp_path, runs):
    runs_dir, _ = runs
    root = tmp_path / "records"
    _store(root, runs_dir, "darts-nb201-s0", "nb201")
    path = root / "darts-nb201-s0.json"
    record = json.loads(path.read_text())
    record["genotype"] = record["history"][0]["genotype"] = (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError, match="checksum"):
        stored.load(["darts-nb201-s0"], root, fetch=False)


def test_fetch_downloads_checks_and_never_keeps_a_damaged_file(tmp_path, runs):
    runs_dir, _ = runs
    remote = tmp_path / "remote"
    _store(remote, runs_dir, "darts-nb201-s0", "nb201")
    (remote / "darts-nb201-s1.json").write_text("{ not json")
    local = tmp_path / "local"
    found = stored.load(["darts-nb201-s0", "darts-nb201-s1", "darts-nb201-s2"], local,
                        fetch=True, base_url=remote.as_uri())
    assert list(found.complete) == ["darts-nb201-s0"]
    assert (local / "darts-nb201-s0.json").read_bytes() == (remote / "darts-nb201-s0.json").read_bytes()
    assert found.missing == ["darts-nb201-s1", "darts-nb201-s2"]
    assert list(found.fetch_errors) == ["darts-nb201-s1"]        # absent remotely is no error
    assert "not valid JSON" in found.fetch_errors["darts-nb201-s1"]
    assert not (local / "darts-nb201-s1.json").exists()
    assert not list(local.glob("*.part"))


def test_summary_table_looks_up_the_final_cells(runs):
    _, records = runs
    table = stored.summary_table({"a": records["nb201"], "b": records["darts"]})
    rows = {row[0]: row for row in table.rows}
    nb = records["nb201"]
    c10 = nb201.accuracy(nb["genotype"], "cifar10")
    assert rows["a.json"][6] == f"{c10:.2f}" and rows["a.json"][5] == str(stored.final_skip_count(nb))
    assert rows["b.json"][6] == "–" and rows["b.json"][4] == "2 epochs"
    darts_cell = nas_kit.parse_genotype(records["darts"]["genotype"], space="darts")
    assert rows["b.json"][5] == str(darts_cell.skip_count("normal"))
    assert table.notes[-1].startswith("Records: 2 record(s) · profile smoke")
    assert len(table.notes) == 1 and "†" not in rows["a.json"][9]   # nothing shared the GPU


def test_summary_table_marks_search_time_on_a_shared_gpu(runs):
    _, records = runs
    shared = copy.deepcopy(records["nb201"])
    shared["history"][-1]["concurrent_runs"] = 4
    assert stored.shared_gpu(shared) == 4 and stored.shared_gpu(records["nb201"]) == 1
    table = stored.summary_table({"a": shared, "b": records["darts"]})
    rows = {row[0]: row for row in table.rows}
    assert rows["a.json"][9].endswith(" †") and not rows["b.json"][9].endswith("†")
    assert "up to 4 searches shared the GPU" in table.notes[0]


def test_no_two_planned_runs_are_the_same_search():
    # A duplicate would spend scarce GPU time computing one record twice.
    seen = {}
    for spec in stored.PLANS["all"]:
        cfg = nas_kit.resolve_config(spec["method"], spec["space"], "cifar10-jpeg", profile="paper",
                                     seed=spec["seed"], **spec["overrides"]).to_dict()
        key = json.dumps([spec["space"], spec["seed"], cfg], sort_keys=True, default=str)
        assert key not in seen, f"{spec['name']} repeats {seen.get(key)}"
        seen[key] = spec["name"]


def test_the_plans_cover_the_showdown_grid_with_recipe_runs():
    from nas_kit import showdown
    recipes = {(s["method"], s["space"], s["seed"]) for s in stored.PLANS["all"] if not s["overrides"]}
    grid = {(m, sp, seed) for m in showdown.METHODS for sp in showdown.SPACES for seed in stored.SEEDS}
    assert grid <= recipes, sorted(grid - recipes)


def test_the_caption_line_says_when_a_record_was_made_from_modified_code():
    def rec(commit, modified, date):
        return {"profile": "paper", "dataset_provenance": "CIFAR-10 (JPEG copy)",
                "env": {"device_name": "H100", "torch": "2.11", "git_commit": commit,
                        "git_modified": modified, "date": date}}
    clean, dirty = rec("a" * 40, False, "2026-11-26T10:00"), rec("b" * 40, True, "2026-11-27T09:00")
    older = {**rec("c" * 40, None, "2026-11-25T08:00")}
    del older["env"]["git_modified"]                      # records from before the field
    line = stored.provenance([clean, dirty, older])
    assert "commit aaaaaaa, bbbbbbb+modified, ccccccc · 2026-11-25 to 2026-11-27" in line
    assert line.startswith("3 record(s) · profile paper · data CIFAR-10 (JPEG copy) · device H100")


def test_per_record_labels_each_value_and_marks_a_partial_record(runs):
    _, records = runs
    cell = stored.per_record({"a": records["nb201"], "c": records["cut"]}, stored.final_skip_count)
    partial = stored.epochs_done(records["cut"])
    assert partial == "1 of 2 epochs"
    assert cell == (f"a.json: {stored.final_skip_count(records['nb201'])}; "
                    f"c.json ({partial}): {stored.final_skip_count(records['cut'])}")
    assert stored.per_record({}, stored.final_skip_count) == "none stored yet"
