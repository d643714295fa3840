"""The record maker pauses at an epoch boundary and resumes to a complete, stored record."""
import itertools
import json

import pytest

from nas_kit import load_record
from nas_kit.records import save_record

from support import load_script, strip_timing, tiny_data

make_records = load_script("make_records")

SPEC = make_records._run("darts", "nb201", 0)


def _advance(tmp_path, deadline):
    return make_records.advance(SPEC, dataset=tiny_data(), runs=tmp_path / "runs",
                                book=tmp_path / "book", deadline=deadline, profile="smoke",
                                device="cpu")


def test_paused_run_resumes_to_the_same_record_as_an_uninterrupted_one(tmp_path, monkeypatch):
    # A fake clock: the first epoch "takes" 9 s of a 10 s window, so the second would not fit.
    ticks = itertools.chain([0.0, 0.0, 9.0], itertools.repeat(9.0))
    monkeypatch.setattr(make_records.time, "time", lambda: next(ticks))
    assert _advance(tmp_path, deadline=10.0) == "paused at epoch 1/2 (partial record stored)"
    partial = load_record(tmp_path / "book" / f"{SPEC['name']}.json")
    assert not partial["complete"] and len(partial["history"]) == 1
    monkeypatch.undo()
    assert _advance(tmp_path, deadline=make_records.time.time() + 3600) == "complete"
    stored = load_record(tmp_path / "book" / f"{SPEC['name']}.json")
    assert stored["complete"] and len(stored["history"]) == 2
    assert _advance(tmp_path, deadline=0.0) == "stored"  # a complete record is not redone

    fresh = make_records.advance(SPEC, dataset=tiny_data(), runs=tmp_path / "fresh",
                                 book=tmp_path / "fresh_book", deadline=make_records.time.time() + 3600,
                                 profile="smoke", device="cpu")
    assert fresh == "complete"
    again = load_record(tmp_path / "fresh_book" / f"{SPEC['name']}.json")
    assert strip_timing(again["history"]) == strip_timing(stored["history"])


def test_past_deadline_starts_nothing(tmp_path):
    assert _advance(tmp_path, deadline=0.0) == "not started (epoch 0/2)"


def test_plans_use_valid_config_and_unique_names():
    names = [s["name"] for s in make_records.PLANS["all"]]
    assert len(names) == len(set(names))
    for s in make_records.PLANS["all"]:
        make_records.nas_kit.resolve_config(s["method"], s["space"], "cifar10-jpeg",
                                            profile="paper", seed=s["seed"], **s["overrides"])


def test_unknown_run_name_is_refused(capsys):
    with pytest.raises(SystemExit):
        make_records.main(["--plan", "ch02", "--only", "nope", "--list"])
    assert "unknown run names ['nope']" in capsys.readouterr().err


def test_cuda_graphs_only_for_the_runs_whose_method_allows_them():
    chosen = {s["name"]: make_records.graphs_overrides(s, "paper", "cuda")
              for s in make_records.PLANS["all"]}
    assert chosen["darts-nb201-s0"] == {"cuda_graphs": True}
    assert chosen["fair-darts-darts-s0"] == {"cuda_graphs": True}
    assert chosen["darts-2nd-nb201-s0"] == {"cuda_graphs": True}    # the unrolled step is one pass
    assert chosen["mim-darts-nb201-s0"] == {"cuda_graphs": True}   # masks drawn outside
    assert chosen["darts-skipnoise-darts-s0"] == {"cuda_graphs": True}    # noise drawn in the graph
    assert make_records.graphs_overrides(SPEC, "paper", "cpu") == {"cuda_graphs": False}


def test_cuda_graphs_refused_without_a_gpu(capsys):
    if make_records.torch.cuda.is_available():
        pytest.skip("this check is about machines without CUDA")
    with pytest.raises(SystemExit):
        make_records.main(["--plan", "ch02", "--cuda-graphs", "--minutes", "0"])
    assert "--cuda-graphs needs a CUDA device" in capsys.readouterr().err


def test_graphs_are_used_for_records_only_when_the_benchmark_verified_them():
    def row(method, space, path, ms, **extra):
        return {"method": method, "space": space, "path": path, "ms_per_step": ms, **extra}
    ok = dict(replay_alpha_grad_rel_diff=1e-6, replay_val_loss_rel_diff=1e-7)
    bench = {"rows": [
        row("darts", "nb201", "fused", 40.0), row("darts", "nb201", "graphs", 12.0, **ok),
        row("darts", "darts", "fused", 90.0), row("darts", "darts", "graphs", 30.0,
                                                  replay_alpha_grad_rel_diff=0.3,
                                                  replay_val_loss_rel_diff=1e-7),
        row("mim-darts", "nb201", "fused", 40.0), row("mim-darts", "nb201", "graphs", 50.0, **ok),
        {"method": "pc-darts", "space": "nb201", "path": "graphs", "error": "RuntimeError: capture"},
        row("rf-darts", "nb201", "fused", 40.0),
        row("rf-darts", "nb201", "graphs", 10.0, replay_error="RuntimeError: x"),
        {"method": "darts-skipnoise", "space": "nb201", "path": "graphs",
         "error": "cuda_graphs=True is not available with the skip-noise ablation"},
        # second order: the eager step differs from itself by 0.02 on this GPU (atomics, magnified
        # by finite differences), the replay by less than twice that
        row("darts-2nd", "darts", "fused", 900.0),
        row("darts-2nd", "darts", "graphs", 300.0, replay_alpha_grad_rel_diff=0.03,
            replay_val_loss_rel_diff=1e-7, eager_repeat_alpha_grad_rel_diff=0.02,
            eager_repeat_val_loss_rel_diff=0.0, replay_state_restored=True),
    ]}
    verified, failed = make_records.graphs_verified(bench)
    assert set(verified) == {("darts", "nb201"), ("darts-2nd", "darts")}
    assert "3.3x faster" in verified[("darts", "nb201")]
    assert failed[("darts", "darts")] == "replay_alpha_grad_rel_diff = 0.3 > 0.001"
    assert failed[("mim-darts", "nb201")] == "not faster than the fused engine"
    assert failed[("pc-darts", "nb201")] == "RuntimeError: capture"
    assert failed[("rf-darts", "nb201")] == "replay check failed: RuntimeError: x"
    assert ("darts-skipnoise", "nb201") not in failed    # refused by design, not a failure
    assert ("darts-2nd", "darts") in verified
    use = {s["name"]: make_records.graphs_for(s, verified, failed) for s in make_records.PLANS["all"]}
    assert use["darts-nb201-s1"] and use["fair-darts-nb201-s0"]   # DARTS verified in NB201
    assert not use["darts-2nd-nb201-s0"]     # second order: only where its own row verified it
    assert use["darts-2nd-darts-s0"]
    assert not use["mim-darts-nb201-s0"] and not use["pc-darts-nb201-s0"]   # their own rows failed
    assert not use["darts-darts-s0"] and not use["fair-darts-darts-s0"]     # DARTS space failed
    # skip noise: only where a skip-noise benchmark verified it, whatever the plain rows say
    noisy = next(s for s in make_records.PLANS["all"] if s["overrides"].get("skip_noise"))
    assert (noisy["method"], noisy["space"]) == ("darts", "darts")
    assert not make_records.graphs_for(noisy, {("darts", "darts"): "ok"}, {})
    assert make_records.graphs_for(noisy, {}, {}, {("darts", "darts"): "ok"})
    assert make_records.graphs_verified({"rows": []}) == ({}, {})


def test_a_partial_record_without_its_checkpoint_is_replaced_only_by_a_longer_run(tmp_path,
                                                                                   monkeypatch):
    ticks = itertools.chain([0.0, 0.0, 9.0], itertools.repeat(9.0))
    monkeypatch.setattr(make_records.time, "time", lambda: next(ticks))
    assert _advance(tmp_path, deadline=10.0).startswith("paused at epoch 1/2")
    stored_before = (tmp_path / "book" / f"{SPEC['name']}.json").read_bytes()
    (tmp_path / "runs" / SPEC["name"] / "checkpoint.pt").unlink()   # not carried to this window
    # the run starts again; paused after 1 epoch it does not replace the 1-epoch record
    ticks = itertools.chain([0.0, 0.0, 9.0], itertools.repeat(9.0))
    state = _advance(tmp_path, deadline=10.0)
    assert state == "paused at epoch 1/2 (the stored partial record of 1 epochs is kept)"
    assert (tmp_path / "book" / f"{SPEC['name']}.json").read_bytes() == stored_before
    # with time for both epochs it completes and replaces it
    (tmp_path / "runs" / SPEC["name"] / "checkpoint.pt").unlink()
    monkeypatch.undo()
    assert _advance(tmp_path, deadline=make_records.time.time() + 3600) == "complete"
    record = load_record(tmp_path / "book" / f"{SPEC['name']}.json")
    assert record["complete"] and len(record["history"]) == 2


def test_pick_carry_takes_the_furthest_unfinished_run_that_fits(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    specs = [make_records._run("darts", "nb201", s) for s in (0, 1, 2)]
    for spec, epochs in zip(specs, (1, 2, 3)):       # seed 2 completes (3 of 3 epochs)
        run = make_records.nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke",
                                                  seed=spec["seed"], out=runs / spec["name"],
                                                  progress=False, device="cpu", epochs=3)
        for _ in range(epochs):
            run.run_epoch()
    size = sum(f.stat().st_size for f in (runs / specs[0]["name"]).iterdir())
    assert make_records.pick_carry(runs, 10 * size).name == specs[1]["name"]   # 2 of 3 epochs
    assert make_records.pick_carry(runs, size // 2) is None                    # nothing fits
    assert make_records.pick_carry(tmp_path / "nowhere", 10 * size) is None


# --- sharing a GPU window: engine fallback, launch headroom, priority, collect, the CLI --------
def _row(method, space, path, ms=None, busy=None, **extra):
    row = {"method": method, "space": space, "path": path, **extra}
    if ms is not None:
        row["ms_per_step"] = ms
    if busy is not None:
        row["gpu_busy_ms"] = busy
    return row


REPLAY_OK = dict(replay_alpha_grad_rel_diff=0.0, replay_val_loss_rel_diff=0.0)


def test_eager_engine_only_where_the_benchmark_saw_fused_fail_and_eager_work():
    bench = {"rows": [
        _row("darts", "nb201", "fused", error="RuntimeError: fused kernel"),
        _row("darts", "nb201", "eager", 300.0),
        _row("mim-darts", "nb201", "fused", 200.0), _row("mim-darts", "nb201", "eager", 300.0),
        _row("pc-darts", "nb201", "fused", error="RuntimeError: a"),
        _row("pc-darts", "nb201", "eager", error="RuntimeError: b"),     # eager broken too
        _row("darts", "darts", "fused", 500.0), _row("darts", "darts", "eager", 900.0),
        _row("rf-darts", "darts", "fused", error="RuntimeError: c"),     # no eager row
    ]}
    run = make_records._run
    assert make_records.engine_for(run("darts", "nb201", 0), bench) == {"engine": "eager"}
    # not benchmarked: DARTS in the same space decides
    assert make_records.engine_for(run("fair-darts", "nb201", 1), bench) == {"engine": "eager"}
    assert make_records.engine_for(run("darts", "nb201", 0, tag="convonly"), bench) == {"engine": "eager"}
    # its own rows decide when it has them, even where DARTS's fused failed
    assert make_records.engine_for(run("mim-darts", "nb201", 0), bench) == {}
    assert make_records.engine_for(run("pc-darts", "nb201", 0), bench) == {}   # eager no better
    assert make_records.engine_for(run("fair-darts", "darts", 0), bench) == {}  # DARTS space fine
    assert make_records.engine_for(run("rf-darts", "darts", 0), bench) == {}    # eager untested
    assert make_records.engine_for(run("darts", "nb201", 0), None) == {}
    assert make_records.engine_for(run("darts", "nb201", 0), {}) == {}


def test_launch_headroom_is_step_over_busy_time_of_the_engine_records_will_use():
    fused = _row("darts", "nb201", "fused", 232.7, 37.6)          # 6.2 -> 6
    eager = _row("darts", "nb201", "eager", 400.0, 100.0)         # 4
    graphs = _row("darts", "nb201", "graphs", 80.0, 30.0, **REPLAY_OK)   # 2.7 -> 2
    headroom = make_records.launch_headroom
    assert headroom({"rows": [fused, eager, graphs]}, "nb201", cap=10) == 2   # graphs verified
    assert headroom({"rows": [fused, eager, graphs]}, "nb201") == 2
    unverified = dict(graphs, replay_alpha_grad_rel_diff=0.5)
    assert headroom({"rows": [fused, eager, unverified]}, "nb201", cap=10) == 6   # -> fused
    assert headroom({"rows": [fused, eager, unverified]}, "nb201") == 3           # capped
    slower = dict(graphs, ms_per_step=250.0)                       # not faster than fused
    assert headroom({"rows": [fused, eager, slower]}, "nb201", cap=10) == 6
    broken = _row("darts", "nb201", "fused", error="RuntimeError: x")
    assert headroom({"rows": [broken, eager]}, "nb201", cap=10) == 4              # -> eager
    # other methods' and spaces' rows are not DARTS in this space
    other = [_row("mim-darts", "nb201", "fused", 500.0, 50.0),
             _row("darts", "darts", "fused", 500.0, 50.0)]
    assert headroom({"rows": other}, "nb201", cap=10) == 1
    assert headroom({"rows": other + [eager]}, "nb201", cap=10) == 4
    assert headroom({"rows": other}, "darts", cap=10) == 10
    # no row, no busy time, or a GPU-bound step: one run
    assert headroom({}, "nb201") == 1
    assert headroom({"rows": [_row("darts", "nb201", "fused", 232.7)]}, "nb201") == 1
    assert headroom({"rows": [_row("darts", "nb201", "fused", 50.0, 60.0)]}, "nb201") == 1


def test_priority_order_nb201_first_second_order_last_recipes_before_ablations():
    run = make_records._run
    plan = [run("darts", "darts", 0), run("darts-2nd", "nb201", 0),
            run("mim-darts", "nb201", 0, tag="mask50p4", mask_ratio=0.5, patch_size=4),
            run("darts", "nb201", 1), run("fair-darts", "nb201", 0), run("darts", "nb201", 0),
            run("darts-2nd", "darts", 0), run("darts", "darts", 1)]
    before = [dict(s) for s in plan]
    ordered = [s["name"] for s in make_records.priority_order(plan)]
    assert ordered == ["fair-darts-nb201-s0", "darts-nb201-s0",   # seed 0 recipes, plan order
                       "darts-nb201-s1", "mim-darts-mask50p4-nb201-s0", "darts-2nd-nb201-s0",
                       "darts-darts-s0", "darts-darts-s1", "darts-2nd-darts-s0"]
    assert plan == before                                          # the plan is not reordered

    full = make_records.priority_order(make_records.PLANS["all"])
    assert sorted(s["name"] for s in full) == sorted(s["name"] for s in make_records.PLANS["all"])
    spaces = [s["space"] for s in full]
    assert spaces == sorted(spaces, key=lambda sp: sp != "nb201")
    nb201 = [s for s in full if s["space"] == "nb201"]
    assert [s["method"] for s in nb201[-3:]] == ["darts-2nd"] * 3
    assert nb201[0]["name"] == "darts-nb201-s0"


def _records(tmp_path):
    """Record files of one smoke run after 0, 1 and 2 epochs: {epochs: path}."""
    run = make_records.nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke",
                                              out=tmp_path / "src", progress=False, device="cpu")
    files = {0: tmp_path / "e0.json"}
    save_record(run.record, files[0])
    for n in (1, 2):
        run.run_epoch()
        files[n] = tmp_path / f"e{n}.json"
        files[n].write_bytes((tmp_path / "src" / "record.json").read_bytes())
    return files


def test_collect_copies_records_the_book_lacks_or_has_fewer_epochs_of(tmp_path, capsys):
    files = _records(tmp_path)
    runs, book = tmp_path / "runs", tmp_path / "book"
    layout = {"newer": (2, 1), "older": (1, 2), "same": (1, 1), "missing": (1, None), "empty": (0, None)}
    for name, (in_runs, in_book) in layout.items():
        (runs / name).mkdir(parents=True)
        (runs / name / "record.json").write_bytes(files[in_runs].read_bytes())
        if in_book is not None:
            book.mkdir(exist_ok=True)
            (book / f"{name}.json").write_bytes(files[in_book].read_bytes())
    (runs / "no-record").mkdir()                                  # a folder without record.json
    assert make_records.collect(runs, book) == ["missing", "newer"]
    for name, (in_runs, in_book) in layout.items():
        expected = {"newer": 2, "older": 2, "same": 1, "missing": 1}.get(name)
        if expected is None:
            assert not (book / f"{name}.json").exists()
        else:   # copied unchanged: the checksum still holds
            assert len(load_record(book / f"{name}.json")["history"]) == expected
    assert (book / "newer.json").read_bytes() == files[2].read_bytes()
    assert make_records.collect(runs, book) == []                  # nothing new the second time
    # through the CLI, into a book folder that does not exist yet
    assert make_records.main(["--collect", "--runs", str(runs), "--book", str(tmp_path / "b2")]) == {}
    assert json.loads(capsys.readouterr().out) == {
        "collected": ["missing", "newer", "older", "same"]}
    assert sorted(p.name for p in (tmp_path / "b2").iterdir()) == [
        "missing.json", "newer.json", "older.json", "same.json"]


def _listed(capsys, *argv):
    assert make_records.main([*argv, "--list"]) == {}
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()]


def test_share_space_and_order_pick_this_process_part_of_the_plan(capsys):
    whole = _listed(capsys, "--plan", "ch02")
    parts = [_listed(capsys, "--plan", "ch02", "--share", f"{k}/3") for k in range(3)]
    assert parts == [["darts-nb201-s0", "darts-darts-s0"], ["darts-nb201-s1"], ["darts-nb201-s2"]]
    assert sorted(sum(parts, [])) == sorted(whole)
    assert _listed(capsys, "--plan", "ch02", "--space", "darts") == ["darts-darts-s0"]
    ordered = [s["name"] for s in make_records.priority_order(
        [s for s in make_records.PLANS["all"] if s["space"] == "nb201"])]
    got = _listed(capsys, "--plan", "all", "--space", "nb201", "--order", "priority",
                  "--share", "1/4")
    assert got == ordered[1::4]
    assert got[:2] == ["fair-darts-nb201-s0", "rf-pcdarts-nb201-s0"]   # seed-0 recipes first
    assert got[-1] == "darts-2nd-nb201-s0" and len(got) == 7


@pytest.mark.parametrize("bad", ["3/3", "1/0", "-1/2", "a/2", "1", "0/2/4"])
def test_a_bad_share_is_refused_naming_the_value(bad, capsys):
    with pytest.raises(SystemExit) as e:
        make_records.main(["--plan", "ch02", f"--share={bad}", "--list"])
    assert e.value.code == 2
    assert f"--share {bad!r}: expected K/N" in capsys.readouterr().err


def test_headroom_cli_prints_the_nb201_headroom(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"rows": [
        _row("darts", "nb201", "fused", 232.7, 37.6),
        _row("darts", "nb201", "graphs", 80.0, 30.0, **REPLAY_OK),
        _row("darts", "darts", "fused", 900.0, 100.0)]}))
    assert make_records.main(["--headroom", str(bench)]) == {}
    assert capsys.readouterr().out == "2\n"
    bench.write_text(json.dumps({"rows": [_row("darts", "nb201", "fused", 232.7, 37.6)]}))
    assert make_records.main(["--headroom", str(bench)]) == {}
    assert capsys.readouterr().out == "3\n"                       # 6.2 capped at 3
    assert make_records.main(["--headroom", str(tmp_path / "missing.json")]) == {}
    assert capsys.readouterr().out == "1\n"


def test_a_run_is_not_started_when_the_last_epoch_time_would_overrun_the_deadline(
        tmp_path, monkeypatch):
    monkeypatch.setattr(make_records.time, "time", lambda: 0.0)   # a clock that stands still
    kw = dict(dataset=tiny_data(), book=tmp_path / "book", deadline=10.0, profile="smoke",
              device="cpu")
    timing = {"epoch_seconds": 9.0}                # 1.15 * 9 s > 10 s left
    assert make_records.advance(SPEC, runs=tmp_path / "a", timing=timing, **kw) \
        == "not started (epoch 0/2)"
    assert timing == {"epoch_seconds": 9.0} and not (tmp_path / "book" / f"{SPEC['name']}.json").exists()
    timing = {"epoch_seconds": 8.5}                # 1.15 * 8.5 s < 10 s left
    assert make_records.advance(SPEC, runs=tmp_path / "b", timing=timing, **kw) == "complete"
    assert timing == {"epoch_seconds": 0.0}        # updated with this run's (frozen-clock) epoch


def test_a_resumed_run_whose_epoch_does_not_fit_keeps_its_partial_record(tmp_path, monkeypatch):
    ticks = itertools.chain([0.0, 0.0, 9.0], itertools.repeat(9.0))
    monkeypatch.setattr(make_records.time, "time", lambda: next(ticks))
    assert _advance(tmp_path, deadline=10.0).startswith("paused at epoch 1/2")
    monkeypatch.undo()
    stored_before = (tmp_path / "book" / f"{SPEC['name']}.json").read_bytes()
    now = make_records.time.time()
    state = make_records.advance(SPEC, dataset=tiny_data(), runs=tmp_path / "runs",
                                 book=tmp_path / "book", deadline=now + 60, profile="smoke",
                                 device="cpu", timing={"epoch_seconds": 120.0})
    assert state == "not resumed (epoch 1/2): no epoch fits"
    assert (tmp_path / "book" / f"{SPEC['name']}.json").read_bytes() == stored_before


def _main_args(tmp_path, *extra):
    return ["--plan", "ch02", "--dataset", "synthetic", "--profile", "smoke", "--device", "cpu",
            "--runs", str(tmp_path / "runs"), "--book", str(tmp_path / "book"), *extra]


def test_one_failing_run_does_not_cost_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(make_records.torch.backends.cudnn, "benchmark", False)   # main sets it
    real, calls = make_records.advance, []

    def advance(spec, **kw):
        calls.append((spec["name"], kw["cuda_graphs"]))
        if spec["name"] == "darts-nb201-s0":
            raise RuntimeError("boom")
        return real(spec, **kw)
    monkeypatch.setattr(make_records, "advance", advance)
    states = make_records.main(_main_args(tmp_path, "--only", "darts-nb201-s0", "darts-nb201-s1"))
    assert states == {"darts-nb201-s0": "failed: RuntimeError: boom",
                      "darts-nb201-s1": "complete"}
    assert calls == [("darts-nb201-s0", False), ("darts-nb201-s1", False)]   # no graphs: no retry
    assert load_record(tmp_path / "book" / "darts-nb201-s1.json")["complete"]
    assert not (tmp_path / "book" / "darts-nb201-s0.json").exists()
    out = capsys.readouterr()
    assert "RuntimeError: boom" in out.err                                    # traceback shown
    assert json.dumps({"run": "darts-nb201-s1", "state": "complete"}) in out.out


def test_a_run_failing_under_cuda_graphs_is_retried_without_them(tmp_path, monkeypatch):
    # No GPU needed: advance is replaced, main only has to believe CUDA is there.
    monkeypatch.setattr(make_records.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(make_records.torch.backends.cudnn, "benchmark", False)
    calls = []

    def advance(spec, **kw):
        calls.append((spec["name"], kw["cuda_graphs"], kw["engine"], id(kw["timing"])))
        if kw["cuda_graphs"] and spec["name"] == "darts-nb201-s0":
            raise RuntimeError("capture failed")
        if spec["name"] == "darts-nb201-s1":
            raise make_records.NonFiniteError("alpha is nan")
        if spec["name"] == "darts-nb201-s2":
            raise ValueError(f"bad {kw['cuda_graphs']}")
        return "complete"
    monkeypatch.setattr(make_records, "advance", advance)
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"rows": [
        _row("darts", "nb201", "fused", 232.7, 37.6),
        _row("darts", "nb201", "graphs", 80.0, 30.0, **REPLAY_OK),
        _row("darts", "darts", "fused", error="RuntimeError: fused kernel"),
        _row("darts", "darts", "eager", 900.0)]}))
    states = make_records.main(_main_args(tmp_path, "--cuda-graphs-if", str(bench)))
    assert states["darts-nb201-s0"] == ("complete (without CUDA graphs or compiling, after: "
                                        "failed: RuntimeError: capture failed)")
    assert states["darts-nb201-s1"] == "failed: NonFiniteError: alpha is nan"   # not retried
    assert states["darts-nb201-s2"] == ("failed: ValueError: bad True; "
                                        "without graphs: ValueError: bad False")
    assert states["darts-darts-s0"] == "complete"
    assert [c[:3] for c in calls] == [
        ("darts-nb201-s0", True, {}), ("darts-nb201-s0", False, {}),
        ("darts-nb201-s1", True, {}),
        ("darts-nb201-s2", True, {}), ("darts-nb201-s2", False, {}),
        # graphs not verified in the DARTS space; its fused engine failed there: eager
        ("darts-darts-s0", False, {"engine": "eager"})]
    assert len({c[3] for c in calls}) == 1          # one timing dict shared by every run


def test_layout_for_uses_channels_last_only_where_measured_faster_and_verified():
    spec = {"name": "fair-darts-nb201-s0", "method": "fair-darts", "space": "nb201", "seed": 0,
            "overrides": {}}
    ok = dict(replay_alpha_grad_rel_diff=0.0, replay_val_loss_rel_diff=0.0)

    def bench(graphs_cl_ms, fused_cl_ms, **graphs_cl_extra):
        rows = [dict(method="darts", space="nb201", path="fused", ms_per_step=200.0),
                dict(method="darts", space="nb201", path="fused-cl", ms_per_step=fused_cl_ms),
                dict(method="darts", space="nb201", path="graphs", ms_per_step=40.0, **ok),
                dict(method="darts", space="nb201", path="graphs-cl", ms_per_step=graphs_cl_ms,
                     **{**ok, **graphs_cl_extra})]
        return {"rows": rows}
    assert make_records.layout_for(spec, bench(30.0, 250.0), graphs=True) == {"channels_last": True}
    assert make_records.layout_for(spec, bench(30.0, 250.0), graphs=False) == {}
    assert make_records.layout_for(spec, bench(50.0, 150.0), graphs=True) == {}
    assert make_records.layout_for(spec, bench(50.0, 150.0), graphs=False) == {"channels_last": True}
    # faster but its replay did not match eager: not used
    assert make_records.layout_for(spec, bench(30.0, 250.0, replay_alpha_grad_rel_diff=0.2),
                                   graphs=True) == {}
    # another space's rows say nothing about this one
    other = {**spec, "space": "darts", "name": "fair-darts-darts-s0"}
    assert make_records.layout_for(other, bench(30.0, 150.0), graphs=True) == {}
    assert make_records.layout_for(spec, None, graphs=True) == {}


AGREES = dict(alpha_grad_rel_diff=2e-5, train_loss_rel_diff=1e-7)


def test_compile_for_only_where_measured_faster_and_matching_eager():
    spec = {"name": "rf-darts-nb201-s0", "method": "rf-darts", "space": "nb201", "seed": 0,
            "overrides": {}}

    def bench(compiled_ms, graphs_compiled_ms, graphs_cl_ms=None, **extra):
        rows = [_row("darts", "nb201", "fused", 200.0), _row("darts", "nb201", "graphs", 40.0, **REPLAY_OK),
                _row("darts", "nb201", "compiled", compiled_ms, **{**AGREES, **extra}),
                _row("darts", "nb201", "graphs-compiled", graphs_compiled_ms,
                     **{**AGREES, **REPLAY_OK, **extra})]
        if graphs_cl_ms is not None:
            rows.append(_row("darts", "nb201", "graphs-cl", graphs_cl_ms, **REPLAY_OK))
        return {"rows": rows}
    assert make_records.compile_for(spec, bench(150.0, 25.0), graphs=True) == {"compile": True}
    assert make_records.compile_for(spec, bench(150.0, 25.0), graphs=False) == {"compile": True}
    assert make_records.compile_for(spec, bench(250.0, 45.0), graphs=True) == {}    # slower
    assert make_records.compile_for(spec, bench(250.0, 45.0), graphs=False) == {}
    # faster than graphs but not than graphs in channels-last: not compiled
    assert make_records.compile_for(spec, bench(150.0, 25.0, graphs_cl_ms=20.0), graphs=True) == {}
    # a different α-gradient than eager's, or a replay that did not match: not used
    assert make_records.compile_for(spec, bench(150.0, 25.0, alpha_grad_rel_diff=0.01),
                                    graphs=True) == {}
    assert make_records.compile_for(spec, bench(150.0, 25.0, replay_alpha_grad_rel_diff=0.2),
                                    graphs=True) == {}
    # not compared with eager at all (no difference in the row): not used
    rows = bench(150.0, 25.0)["rows"]
    for r in rows:
        r.pop("alpha_grad_rel_diff", None)
    assert make_records.compile_for(spec, {"rows": rows}, graphs=True) == {}
    assert make_records.compile_for({**spec, "space": "darts"}, bench(150.0, 25.0), graphs=True) == {}
    assert make_records.compile_for(spec, None, graphs=True) == {}


def test_a_run_failing_compiled_is_retried_without_compiling(tmp_path, monkeypatch):
    monkeypatch.setattr(make_records.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(make_records.torch.backends.cudnn, "benchmark", False)
    calls = []

    def advance(spec, **kw):
        calls.append((spec["name"], kw["cuda_graphs"], kw["engine"]))
        if kw["engine"].get("compile"):
            raise RuntimeError("inductor failed")
        return "complete"
    monkeypatch.setattr(make_records, "advance", advance)
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"rows": [
        _row("darts", "nb201", "fused", 232.7, 37.6),
        _row("darts", "nb201", "compiled", 120.0, **AGREES)]}))
    states = make_records.main(_main_args(tmp_path, "--only", "darts-nb201-s0",
                                          "--cuda-graphs-if", str(bench)))
    assert states == {"darts-nb201-s0": "complete (without CUDA graphs or compiling, after: "
                                        "failed: RuntimeError: inductor failed)"}
    assert calls == [("darts-nb201-s0", False, {"compile": True}), ("darts-nb201-s0", False, {})]


def _cost_bench():
    ok = dict(replay_alpha_grad_rel_diff=0.0, replay_val_loss_rel_diff=0.0)
    return {"rows": [
        dict(method="darts", space="nb201", path="fused", ms_per_step=150.0, projected_50_epoch_min=47.0),
        dict(method="darts", space="nb201", path="graphs", ms_per_step=40.0, projected_50_epoch_min=12.0,
             replay_alpha_grad_rel_diff=0.3, replay_val_loss_rel_diff=0.04),   # not verified
        dict(method="pc-darts", space="nb201", path="fused", ms_per_step=200.0, projected_50_epoch_min=17.0),
        dict(method="pc-darts", space="nb201", path="graphs", ms_per_step=80.0, projected_50_epoch_min=7.0, **ok),
        dict(method="darts", space="darts", path="fused", ms_per_step=460.0, projected_50_epoch_min=150.0),
        dict(method="darts", space="darts", path="graphs", ms_per_step=130.0, projected_50_epoch_min=44.0, **ok),
    ]}


def test_estimate_minutes_takes_the_fastest_engine_records_may_use():
    run = make_records._run
    bench = _cost_bench()
    assert make_records.estimate_minutes(run("darts", "nb201", 0), bench) == (47.0, "fused")
    assert make_records.estimate_minutes(run("pc-darts", "nb201", 1), bench) == (7.0, "graphs")
    assert make_records.estimate_minutes(run("darts", "darts", 0, tag="e100", epochs=100),
                                         bench) == (88.0, "graphs")
    assert make_records.estimate_minutes(run("fair-darts", "nb201", 0), bench) is None


def test_cost_order_puts_what_a_window_can_finish_first(tmp_path, monkeypatch):
    run = make_records._run
    plan = [run("darts", "darts", 0), run("darts", "nb201", 0), run("fair-darts", "nb201", 0),
            run("pc-darts", "nb201", 0), run("darts", "nb201", 1)]
    bench = _cost_bench()
    names = [s["name"] for s in make_records.cost_order(plan, bench)]
    assert names == ["pc-darts-nb201-s0", "darts-nb201-s0", "darts-nb201-s1",
                     "fair-darts-nb201-s0", "darts-darts-s0"]   # not benchmarked: last in space
    # a carried checkpoint 45 of 50 epochs on needs 4.7 min: it goes first
    folder = tmp_path / "darts-nb201-s1"
    folder.mkdir()
    (folder / "checkpoint.pt").write_bytes(b"x")
    record = {"history": [{}] * 45, "config": {"epochs": 50}}
    (folder / "record.json").write_text("{}")
    monkeypatch.setattr(make_records, "load_record", lambda path: record)
    names = [s["name"] for s in make_records.cost_order(plan, bench, runs=tmp_path)]
    assert names[0] == "darts-nb201-s1"


def test_order_cost_needs_step_times(capsys):
    with pytest.raises(SystemExit):
        make_records.main(["--order", "cost", "--list"])
    assert "--order cost needs step times" in capsys.readouterr().err


def test_estimate_prints_each_run_and_the_total(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(_cost_bench()))
    make_records.main(["--plan", "ch02", "--estimate", str(bench)])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["darts-nb201-s0", "47.0", "min", "(fused)"]
    assert out[3].split() == ["darts-darts-s0", "44.0", "min", "(graphs)"]
    assert out[-1] == "total 185 GPU minutes (3.1 h) for 4 runs; not benchmarked: 0"
