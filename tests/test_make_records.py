"""The record maker pauses at an epoch boundary and resumes to a complete, stored record."""
import itertools

import pytest

from nas_kit import load_record

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
    assert chosen["darts-2nd-nb201-s0"] == {}          # second order perturbs w between passes
    assert chosen["mim-darts-nb201-s0"] == {"cuda_graphs": True}   # masks drawn outside
    assert chosen["darts-skipnoise-darts-s0"] == {}    # noise scale changes per epoch
    assert make_records.graphs_overrides(SPEC, "paper", "cpu") == {}


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
        {"method": "darts-2nd", "space": "nb201", "path": "graphs",
         "error": "cuda_graphs=True is not available with second order (order=2)"},
    ]}
    verified, failed = make_records.graphs_verified(bench)
    assert set(verified) == {("darts", "nb201")} and "3.3x faster" in verified[("darts", "nb201")]
    assert failed[("darts", "darts")] == "replay_alpha_grad_rel_diff = 0.3 > 0.001"
    assert failed[("mim-darts", "nb201")] == "not faster than the fused engine"
    assert failed[("pc-darts", "nb201")] == "RuntimeError: capture"
    assert failed[("rf-darts", "nb201")] == "replay check failed: RuntimeError: x"
    assert ("darts-2nd", "nb201") not in failed          # refused by design, not a failure
    use = {s["name"]: make_records.graphs_for(s, verified, failed) for s in make_records.PLANS["all"]}
    assert use["darts-nb201-s1"] and use["fair-darts-nb201-s0"]   # DARTS verified in NB201
    assert not use["mim-darts-nb201-s0"] and not use["pc-darts-nb201-s0"]   # their own rows failed
    assert not use["darts-darts-s0"] and not use["fair-darts-darts-s0"]     # DARTS space failed
    assert make_records.graphs_verified({"rows": []}) == ({}, {})


def test_a_partial_record_without_its_checkpoint_is_left_alone(tmp_path, monkeypatch):
    ticks = itertools.chain([0.0, 0.0, 9.0], itertools.repeat(9.0))
    monkeypatch.setattr(make_records.time, "time", lambda: next(ticks))
    assert _advance(tmp_path, deadline=10.0).startswith("paused at epoch 1/2")
    monkeypatch.undo()
    stored_before = (tmp_path / "book" / f"{SPEC['name']}.json").read_bytes()
    (tmp_path / "runs" / SPEC["name"] / "checkpoint.pt").unlink()   # not carried to this window
    state = _advance(tmp_path, deadline=make_records.time.time() + 3600)
    assert state.startswith("partial record stored (1 of 2 epochs), but its checkpoint is not under")
    assert (tmp_path / "book" / f"{SPEC['name']}.json").read_bytes() == stored_before


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
