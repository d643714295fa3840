"""Reading benchmark results: tables show only measured columns; agreement is judged right."""
import copy
import json
from pathlib import Path

import pytest
import torch

from nas_kit import compiled
from nas_kit.profiling import (CountOps, compile_verified, engine_agreement, ops_before_after,
                               replay_verified, speed_provenance, speed_table, speed_targets)

from support import load_script

RESULT = {
    "shapes": "smoke",
    "env": {"device_name": "x86_64", "torch": "2.x", "git_commit": "abcdef123", "date": "2026-11-26T00:00"},
    "rows": [
        {"method": "darts", "space": "nb201", "path": "eager", "batch_size": 16, "ms_per_step": 100.0,
         "kernels_per_step": None, "eager_alpha_grad_rel_change_at_1e-7_weight_noise": 1e-6},
        {"method": "darts", "space": "nb201", "path": "fused", "batch_size": 16, "ms_per_step": 50.0,
         "kernels_per_step": None, "speedup_vs_eager": 2.0, "alpha_grad_rel_diff": 5e-7},
        {"method": "pc-darts", "space": "nb201", "path": "eager", "batch_size": 16, "ms_per_step": 10.0,
         "eager_alpha_grad_rel_change_at_1e-7_weight_noise": 1e-7},
        {"method": "pc-darts", "space": "nb201", "path": "fused", "ms_per_step": 9.0,
         "alpha_grad_rel_diff": 3e-3},
        {"method": "mim-darts", "space": "nb201", "error": "OOM: out of memory"},
        {"method": "darts", "space": "darts", "path": "graphs", "error": "RuntimeError: capture"},
    ],
}


def test_speed_table_keeps_measured_columns_and_lists_failures():
    table = speed_table(RESULT, omit=("batch_size",))
    assert "CUDA kernels / step" not in table.header  # None everywhere: not measured here
    assert "batch" not in table.header
    assert table.header[:3] == ("space", "method", "engine")
    assert len(table.rows) == 4
    assert table.notes == ("mim-darts (nb201, every engine): OOM: out of memory",
                           "darts (darts, graphs): RuntimeError: capture")
    assert "2.00" in table.rows[1]


def test_engine_agreement_compares_with_the_eager_self_noise():
    verdicts = {a["method"]: a["within_self_noise"] for a in engine_agreement(RESULT)}
    assert verdicts == {"darts": True, "pc-darts": False}


def test_ops_before_after_pairs_the_engine_rows_of_two_files():
    after = copy.deepcopy(RESULT)
    for i, r in enumerate(after["rows"]):
        if "error" not in r:
            r["ops_per_step"] = 100 * (i + 1)
    before = copy.deepcopy(after)
    for r in before["rows"]:
        if "ops_per_step" in r:
            r["ops_per_step"] *= 2
    table = ops_before_after(before, after)
    rows = {(row[0], row[1]): row for row in table.rows}
    fused = [r for r in after["rows"] if r.get("path") == "fused" and "error" not in r]
    assert len(rows) == len(fused) > 0
    for r in fused:
        row = rows[(r["method"], r["space"])]
        assert row[3] == str(2 * r["ops_per_step"]) and row[4] == str(r["ops_per_step"])
        assert row[5] == "0.500"
    before["shapes"] = "paper"
    with pytest.raises(ValueError, match="same shapes and device"):
        ops_before_after(before, after)


def test_provenance_names_device_torch_commit_and_date():
    line = speed_provenance(RESULT)
    assert "x86_64" in line and "torch 2.x" in line and "abcdef1" in line and "2026-11-26" in line


def test_stored_benchmark_files_render():
    from nas_kit.profiling import conv_choices_table
    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    for path in results.glob("search_speed_*.json"):
        result = json.loads(path.read_text())
        assert speed_table(result).rows, path.name
    for path in results.glob("conv_choices_*.json"):
        assert conv_choices_table(json.loads(path.read_text())).rows, path.name
    from nas_kit.profiling import host_overhead_table
    host = {p.name: json.loads(p.read_text()) for p in results.glob("host_overhead_*.json")}
    assert len(host_overhead_table(host).rows) == sum(len(r["rows"]) for r in host.values())
    from nas_kit.profiling import chapter_times_table
    for path in results.glob("chapter_times_*.json"):
        result = json.loads(path.read_text())
        assert len(chapter_times_table(result).rows) == len(result["chapters"]) > 0, path.name
    shown = ("search_speed_*.json", "conv_choices_*.json", "host_overhead_*.json",
             "chapter_times_*.json")
    others = {p.name for p in results.glob("*.json")} - {
        p.name for pattern in shown for p in results.glob(pattern)}
    assert not others, f"benchmark files the book does not show: {sorted(others)}"


def test_chapter_times_table_names_the_slowest_cell_and_a_stopped_chapter():
    from nas_kit.profiling import chapter_times_table
    cells = [{"cell": 0, "line": 3, "first_line": "import torch", "seconds": 0.5},
             {"cell": 1, "line": 9, "first_line": "record = nas_kit.search(", "seconds": 4.25}]
    result = {"profile": "smoke", "dataset": "profile default", "chapters": [
        {"chapter": "ch01_x", "cells": cells, "wall_s": 4.81, "process_s": 6.02},
        {"chapter": "ch02_y", "cells": cells[:1], "wall_s": 0.6,
         "error": {"cell": 1, "line": 9, "error": "RuntimeError: boom"}}]}
    rows = chapter_times_table(result).rows
    assert list(rows[0]) == ["ch01_x", "4.8", "6.0", "4.2 s: `record = nas_kit.search(`"]
    assert list(rows[1]) == ["ch02_y", "stopped: RuntimeError: boom", "–", "0.5 s: `import torch`"]


def test_count_ops_counts_computing_ops_not_views():
    x = torch.ones(4, 4)
    with CountOps() as c:
        y = x.view(16).add(1).reshape(4, 4).mul(2)
    assert c.total == 2 and set(c.counts) == {"add", "mul"}
    assert y.sum().item() == 64


def test_the_benchmark_runs_every_engine_and_reports_refusals():
    bench = load_script("search_speed")
    rows = bench.bench_method("darts", "nb201", "smoke", torch.device("cpu"), steps=1, warmup=0,
                              engines=["eager", "fused", "graphs"])
    by_path = {r["path"]: r for r in rows}
    assert by_path["fused"]["alpha_grad_rel_diff"] < 1e-5
    assert by_path["fused"]["ops_per_step"] < by_path["eager"]["ops_per_step"]
    assert by_path["eager"]["eager_alpha_grad_rel_change_at_1e-7_weight_noise"] > 0
    assert "needs a CUDA device" in by_path["graphs"]["error"]
    assert "error" not in by_path["eager"] and by_path["fused"]["speedup_vs_eager"] > 0
    # smoke: 2 epochs of 32 images in batches of 16
    assert by_path["eager"]["profile_search_steps"] == 4
    assert by_path["eager"]["projected_profile_search_min"] == round(
        by_path["eager"]["ms_per_step"] * 4 / 60_000, 2)


def test_profile_search_steps_follow_each_profiles_epochs_data_and_batch():
    bench = load_script("search_speed")
    # colab: 10 epochs on 2,500 + 2,500 images at DARTS' batch 64; Fair DARTS has 25 epochs
    # at its recipe's 128 in NB201 (its own colab budget), the DARTS space's 6 epochs there
    assert bench.profile_search_steps("darts", "nb201", "colab") == 10 * (2_500 // 64)
    assert bench.profile_search_steps("fair-darts", "nb201", "colab") == 25 * (2_500 // 128)
    assert bench.profile_search_steps("fair-darts", "darts", "colab") == 6 * (1_280 // 128)
    assert bench.profile_search_steps("darts", "darts", "colab") == 6 * (1_280 // 64)
    # paper: 50 epochs on the 25k/25k split
    assert bench.profile_search_steps("darts", "darts", "paper") == 50 * (25_000 // 64)
    assert bench.profile_search_steps("darts", "nb201", "colab", batch_size=32) == 10 * (2_500 // 32)


def test_the_benchmark_times_compiled_engines_against_eager(monkeypatch):
    monkeypatch.setattr(compiled, "BACKEND", "aot_eager")   # tracing, not code generation: fast
    torch._dynamo.utils.counters.clear()
    bench = load_script("search_speed")
    rows = bench.bench_method("darts", "nb201", "smoke", torch.device("cpu"), steps=1, warmup=1,
                              engines=["eager", "compiled", "graphs-compiled"])
    by_path = {r["path"]: r for r in rows}
    assert by_path["compiled"]["alpha_grad_rel_diff"] < 1e-4
    assert by_path["compiled"]["ops_per_step"] is None      # generated kernels are not ATen ops
    assert by_path["compiled"]["first_step_s"] > 0 and by_path["compiled"]["warmup_steps"] == 1
    assert "needs a CUDA device" in by_path["graphs-compiled"]["error"]
    # what a GPU window pays for: the α pass and the w pass compiled once, nothing else
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 2


def test_compile_verified_allows_the_methods_own_float_sensitivity():
    row = dict(method="darts", space="darts", path="compiled", alpha_grad_rel_diff=1.5e-3,
               train_loss_rel_diff=0.0)
    eager = {"method": "darts", "space": "darts", "path": "eager",
             "eager_alpha_grad_rel_change_at_1e-7_weight_noise": 1e-3}
    assert not compile_verified(row)                      # above 1e-3, no yardstick given
    assert compile_verified(row, [eager])                 # within twice eager's own change
    assert not compile_verified({**row, "alpha_grad_rel_diff": 2.5e-3}, [eager])
    assert not compile_verified(row, [{**eager, "space": "nb201"}])   # another space's eager
    assert not compile_verified({**row, "train_loss_rel_diff": 1e-3}, [eager])
    assert compile_verified({**row, "alpha_grad_rel_diff": 9e-4})
    # the fused engine's own differences from eager (GPU rounding) widen both limits
    fused = dict(method="darts", space="darts", path="fused", alpha_grad_rel_diff=0.2,
                 train_loss_rel_diff=1e-3)
    loose = {**row, "alpha_grad_rel_diff": 0.3, "train_loss_rel_diff": 1.5e-3}
    assert not compile_verified(loose, [eager])
    assert compile_verified(loose, [eager, fused])
    assert not compile_verified({**loose, "train_loss_rel_diff": 3e-3}, [eager, fused])


def test_replay_verified_allows_the_eager_steps_own_nondeterminism():
    row = dict(path="graphs", replay_alpha_grad_rel_diff=0.05, replay_val_loss_rel_diff=0.0)
    assert not replay_verified(row)                       # above 1e-3, no yardstick measured
    repeat = dict(eager_repeat_alpha_grad_rel_diff=0.03, eager_repeat_val_loss_rel_diff=0.0,
                  replay_state_restored=True)
    assert replay_verified({**row, **repeat})             # within twice eager vs itself
    # a check that did not restore the whole state measured its own fault, not the GPU's
    assert not replay_verified({**row, **repeat, "replay_state_restored": None})
    assert not replay_verified({**row, **repeat, "replay_alpha_grad_rel_diff": 0.07})
    assert not replay_verified({**row, **repeat, "replay_val_loss_rel_diff": 1e-3})
    assert not replay_verified({**row, **repeat, "replay_error": "RuntimeError: x"})
    assert replay_verified({**row, "replay_alpha_grad_rel_diff": 1e-3})


def _gpu_result(*rows, shapes="paper"):
    return {"env": {"device": "cuda"}, "shapes": shapes,
            "rows": [dict(method="darts", space="nb201", **r) for r in rows]}


def test_speed_targets_count_only_rows_checked_against_eager():
    replay_ok = dict(replay_alpha_grad_rel_diff=0.0, replay_val_loss_rel_diff=0.0)
    agrees = dict(alpha_grad_rel_diff=1e-5, train_loss_rel_diff=1e-7)
    results = {"a.json": _gpu_result(
        dict(path="fused", projected_50_epoch_min=40.0),
        dict(path="graphs", projected_50_epoch_min=12.0, replay_alpha_grad_rel_diff=0.5,
             replay_val_loss_rel_diff=0.0),                                  # replay differed
        dict(path="compiled", projected_50_epoch_min=3.0),                   # never compared
        dict(path="graphs-compiled", projected_50_epoch_min=2.0, **replay_ok,
             alpha_grad_rel_diff=0.2, train_loss_rel_diff=0.0),              # differed from eager
        dict(path="graphs-compiled", projected_50_epoch_min=4.0, **replay_ok, **agrees))}
    table = speed_targets(results)
    row = next(r for r in table.rows if r[0].startswith("NAS-Bench-201"))
    assert tuple(row[2:4]) == ("4 min", "graphs-compiled") and row[5] == "yes"
    assert sum("not counted" in n for n in table.notes) == 3
    # a faster step at the colab profile's smaller shapes says nothing about the paper goals
    results["colab.json"] = _gpu_result(dict(path="fused", projected_50_epoch_min=1.0), shapes="colab")
    row = next(r for r in speed_targets(results).rows if r[0].startswith("NAS-Bench-201"))
    assert tuple(row[2:4]) == ("4 min", "graphs-compiled")
    # nor does the skip-noise ablation's step (a file of search_speed.py --skip-noise rows)
    noise = _gpu_result(dict(path="fused", projected_50_epoch_min=1.0, skip_noise=1.0))
    results["noise.json"] = {**noise, "skip_noise": 1.0}
    row = next(r for r in speed_targets(results).rows if r[0].startswith("NAS-Bench-201"))
    assert tuple(row[2:4]) == ("4 min", "graphs-compiled")


def test_benchmark_append_adds_rows_of_the_same_shapes_and_device(tmp_path):
    bench = load_script("search_speed")
    out = tmp_path / "b.json"
    common = ["--shapes", "smoke", "--device", "cpu", "--spaces", "nb201", "--steps", "1",
              "--warmup", "0", "--engines", "fused", "--out", str(out)]
    bench.main(common + ["--methods", "darts"])
    result = bench.main(common + ["--methods", "rf-darts", "--append"])
    assert [r["method"] for r in result["rows"]] == ["darts", "rf-darts"]
    assert [r["method"] for r in json.loads(out.read_text())["rows"]] == ["darts", "rf-darts"]
    with pytest.raises(SystemExit):
        bench.main(["--shapes", "colab", "--device", "cpu", "--methods", "darts", "--spaces",
                    "nb201", "--steps", "1", "--out", str(out), "--append"])


def test_benchmark_rows_with_skip_noise_are_marked_and_kept_apart(tmp_path, capsys):
    bench = load_script("search_speed")
    out = tmp_path / "noise.json"
    common = ["--shapes", "smoke", "--device", "cpu", "--spaces", "nb201", "--steps", "1",
              "--warmup", "0", "--engines", "eager", "fused", "--methods", "darts", "--out", str(out)]
    result = bench.main(common + ["--skip-noise", "1.0"])
    assert result["skip_noise"] == 1.0
    assert [(r["path"], r["skip_noise"]) for r in result["rows"]] == [("eager", 1.0), ("fused", 1.0)]
    # the engines draw different noise: their α-gradients differ by more than rounding, and the
    # row says why
    fused = result["rows"][1]
    assert fused["alpha_grad_rel_diff"] > 1e-3 and "different draws" in fused["note"]
    for bad in (common + ["--append"],                        # no skip noise into a noise file
                common + ["--skip-noise", "-1"]):
        with pytest.raises(SystemExit):
            bench.main(bad)
    assert "the noise scale must be >= 0" in capsys.readouterr().err


def test_a_failing_count_does_not_lose_the_timing(monkeypatch):
    bench = load_script("search_speed")

    def broken(*args):
        raise RuntimeError("profiler unavailable")
    monkeypatch.setattr(bench, "profile_kernels", broken)
    rows = bench.bench_method("darts", "nb201", "smoke", torch.device("cpu"), steps=1, warmup=0,
                              engines=["fused"])
    assert rows[0]["ms_per_step"] > 0 and rows[0]["kernels_per_step"] is None is rows[0]["gpu_busy_ms"]
    assert rows[0]["count_errors"] == {"kernels_per_step": "RuntimeError: profiler unavailable"}
    assert rows[0]["ops_per_step"] > 0
    table = speed_table({"rows": rows})
    assert table.notes == ("darts (nb201, fused): not measured: kernels_per_step "
                           "(RuntimeError: profiler unavailable)",)


def test_kernel_summary_counts_cuda_kernels_and_ranks_them_by_time():
    from types import SimpleNamespace as NS
    bench = load_script("search_speed")

    def event(name, device, us):
        return NS(name=name, device_type=NS(name=device),
                  time_range=NS(elapsed_us=lambda: us))
    events = [event("conv", "CUDA", 30.0), event("bn", "CUDA", 5.0), event("conv", "CUDA", 20.0),
              event("aten::conv2d", "CPU", 999.0), event("relu", "CUDA", 8.0)]
    count, busy_ms, top = bench.kernel_summary(events, top=2)
    assert count == 4 and busy_ms == 0.06
    assert top == [["conv", 2, 0.05], ["relu", 1, 0.01]]


def test_conv_choices_records_the_step_convs_and_checks_each_variant(tmp_path):
    cc = load_script("conv_choices")
    convs = cc.convs_of_a_forward("darts", "smoke", None)
    kinds = {c["kind"] for c in convs}
    assert {"depthwise", "1x1 grouped", "1x1"} <= kinds, kinds
    assert all(c["input"][0] == 16 for c in convs)  # the smoke profile's batch, not the probe's 2
    grouped = next(c for c in convs if c["kind"] == "1x1 grouped")
    row = cc.time_conv(grouped, torch.device("cpu"), reps=1, warmup=0)
    assert set(row["ms"]) == {"nchw", "nhwc", "bmm"}
    assert row["max_rel_diff"]["bmm"] < 1e-5  # the matmul form computes the same conv
    depthwise = next(c for c in convs if c["kind"] == "depthwise")
    assert "bmm" not in cc.time_conv(depthwise, torch.device("cpu"), reps=1, warmup=0)["ms"]
    summary = cc.summarize([dict(row, space="darts")])
    assert summary[0]["calls_per_step"] == 2 * grouped["calls_per_forward"]
    assert summary[0]["ms_per_step"]["bmm"] == pytest.approx(
        2 * grouped["calls_per_forward"] * row["ms"]["bmm"], rel=1e-3)


def test_conv_choices_table_picks_the_fastest_variant_that_agrees():
    from nas_kit.profiling import conv_choices_table
    result = {"rows": [
        {"space": "darts", "kind": "1x1 grouped", "ms": {"nchw": 2.0, "nhwc": 3.0, "bmm": 0.5},
         "max_rel_diff": {"nchw": 0.0, "nhwc": 1e-7, "bmm": 1e-6}},
        {"space": "darts", "kind": "depthwise", "ms": {"nchw": 2.0, "nhwc": 1.0},
         "max_rel_diff": {"nchw": 0.0, "nhwc": 0.5}},   # faster but wrong: not picked
    ], "summary": [
        {"space": "darts", "kind": "1x1 grouped", "calls_per_step": 4,
         "ms_per_step": {"nchw": 8.0, "nhwc": 12.0, "bmm": 2.0}},
        {"space": "darts", "kind": "depthwise", "calls_per_step": 2,
         "ms_per_step": {"nchw": 4.0, "nhwc": 2.0, "bmm": 4.0}},
    ]}
    table = conv_choices_table(result)
    assert [row[-1] for row in table.rows] == ["bmm", "nchw"]
    assert table.rows[0][5] == "2.00" and table.rows[1][5] == "–"  # no matmul form of a depthwise conv


def test_host_overhead_measures_both_engines_of_both_spaces():
    result = load_script("host_overhead").main(["--reps", "1", "--warmup", "0"])
    assert {(r["space"], r["engine"]) for r in result["rows"]} == {
        (s, e) for s in ("darts", "nb201") for e in ("eager", "fused")}
    # both timed, nothing more: one unwarmed repetition on a shared CPU can time a forward
    # above a later forward + backward (seen on a loaded machine), and speed is for the
    # benchmark's JSON, not for a unit test
    assert all(0 < r["forward_ms"] and 0 < r["forward_backward_ms"] for r in result["rows"])


def test_search_step_cost_times_a_step_and_counts_what_random_features_train():
    import nas_kit
    from nas_kit.profiling import search_step_cost
    from support import tiny_data
    cost = {}
    for method in ("darts", "rf-darts"):
        torch.manual_seed(0)
        run = nas_kit.prepare_search(method, "nb201", tiny_data(), profile="smoke", device="cpu",
                                     progress=False, alpha_warmup_epochs=0)
        alpha_before = run.model.arch["alpha_cell"].detach().clone()
        cost[method] = search_step_cost(run, steps=2)
        assert not torch.equal(alpha_before, run.model.arch["alpha_cell"])   # real search steps
        assert all(p.grad is None for p in run.model.parameters())          # no gradient left behind
    for c in cost.values():
        assert c["ms_per_step"] > 0 and c["peak_mib"] is None and c["saved_activation_mib"] > 0
        assert 0 < c["trained_weights"] <= c["weights"]
    assert cost["darts"]["trained_weights"] == cost["darts"]["weights"]
    # random features: only BatchNorm's gamma and beta train, a small share of the supernet
    assert cost["rf-darts"]["trained_weights"] < 0.2 * cost["rf-darts"]["weights"]
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        search_step_cost(run, steps=0)
