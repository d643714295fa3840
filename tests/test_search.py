"""The bilevel loop end to end: every method, records, checkpoints and resume, the CLI."""
import json

import pytest
import torch

import nas_kit
from nas_kit.__main__ import main
from nas_kit.checkpoints import CheckpointError
from nas_kit.genotypes import parse_genotype
from nas_kit.records import RecordError, load_record
from tests.support import die_before_record, strip_timing, tiny_data





@pytest.mark.parametrize("space", ["darts", "nb201"])
@pytest.mark.parametrize("method", list(nas_kit.METHODS))
def test_every_method_runs_two_smoke_epochs_and_writes_a_valid_record(method, space, tmp_path):
    record = nas_kit.search(method, space, tiny_data(), profile="smoke", out=tmp_path,
                            progress=False, device="cpu")
    loaded = load_record(tmp_path / "record.json")
    assert {k: v for k, v in loaded.items() if k != "checksum"} == json.loads(json.dumps(record))
    assert loaded["method"] == method and loaded["space"] == space
    assert loaded["complete"] and len(loaded["history"]) == 2
    assert loaded["config"]["epochs"] == 2 and loaded["profile"] == "smoke"
    n_ops = len(loaded["primitives"])
    for entry in loaded["history"]:
        for t in loaded["cell_types"]:
            w = torch.tensor(entry["weights"][t])
            assert w.shape == (len(loaded["edges"]), n_ops)
            if loaded["relaxation"] == "softmax":
                assert torch.allclose(w.sum(1), torch.ones(len(w)), atol=1e-5)
        genotype = parse_genotype(entry["genotype"], space=space)
        assert genotype.space == space
        assert 0 <= entry["train_acc"] <= 100 and entry["seconds"] > 0
    assert loaded["env"]["torch"] == torch.__version__
    assert "synthetic" in loaded["dataset_provenance"]
    assert (tmp_path / "checkpoint.pt").exists()




def test_same_seed_gives_identical_records(tmp_path):
    a = nas_kit.search("mim-darts", "nb201", tiny_data(), profile="smoke", seed=3,
                       progress=False, device="cpu")
    b = nas_kit.search("mim-darts", "nb201", tiny_data(), profile="smoke", seed=3,
                       progress=False, device="cpu")
    assert strip_timing(a) == strip_timing(b)
    c = nas_kit.search("mim-darts", "nb201", tiny_data(), profile="smoke", seed=4,
                       progress=False, device="cpu")
    assert c["history"][-1]["weights"] != a["history"][-1]["weights"]


def test_on_epoch_sees_every_epoch_and_a_look_at_the_supernet_changes_nothing():
    from nas_kit import analysis
    kw = dict(profile="smoke", seed=3, progress=False, device="cpu", epochs=2)
    plain = nas_kit.prepare_search("mim-darts", "nb201", tiny_data(), **kw).run()
    seen = []

    def look(run, entry):
        recovered = analysis.reconstruct(run, n=2)[2]
        seen.append((entry["epoch"], run.epoch, tuple(recovered.shape)))

    watched = nas_kit.prepare_search("mim-darts", "nb201", tiny_data(), **kw).run(on_epoch=look)
    assert [(e, r) for e, r, _ in seen] == [(1, 1), (2, 2)]
    assert seen[0][2][0] == 2
    assert strip_timing(watched) == strip_timing(plain)
    with pytest.raises(TypeError, match="on_epoch must be callable.*got 3"):
        nas_kit.prepare_search("darts", "nb201", tiny_data(), **kw).run(on_epoch=3)


@pytest.mark.parametrize("method,space", [("darts", "darts"), ("mim-darts", "nb201"),
                                          ("pc-darts", "nb201")])
def test_resume_equals_uninterrupted(method, space, tmp_path):
    kw = dict(profile="smoke", progress=False, device="cpu", epochs=3)
    full = nas_kit.prepare_search(method, space, tiny_data(), out=tmp_path / "full", **kw)
    full.run()

    interrupted = nas_kit.prepare_search(method, space, tiny_data(), out=tmp_path / "cut", **kw)
    interrupted.run_epoch()
    interrupted.run_epoch()
    del interrupted   # "Colab disconnected" after epoch 2
    resumed = nas_kit.prepare_search(method, space, tiny_data(), out=tmp_path / "cut",
                                     resume=True, **kw)
    assert resumed.epoch == 2
    resumed.run()
    for a, b in zip(full.alphas, resumed.alphas):
        assert torch.equal(a, b)
    assert strip_timing(full.record) == strip_timing(resumed.record)


def test_killed_after_the_last_checkpoint_but_before_the_record_resumes_to_a_complete_record(
        tmp_path, monkeypatch):
    # The race CI caught with SIGKILL: the final checkpoint is on disk, the final record is not.
    import importlib
    search_module = importlib.import_module("nas_kit.search")
    kw = dict(profile="smoke", progress=False, device="cpu", epochs=2)
    full = nas_kit.prepare_search("darts", "nb201", tiny_data(), out=tmp_path / "full", **kw)
    full.run()
    die_before_record(monkeypatch, search_module, 2)
    with pytest.raises(KeyboardInterrupt):
        nas_kit.prepare_search("darts", "nb201", tiny_data(), out=tmp_path / "cut", **kw).run()
    monkeypatch.undo()
    assert not load_record(tmp_path / "cut")["complete"]
    resumed = nas_kit.prepare_search("darts", "nb201", tiny_data(), out=tmp_path / "cut",
                                     resume=True, **kw)
    assert resumed.epoch == 2 and resumed.record["complete"]
    resumed.run()
    on_disk = load_record(tmp_path / "cut")
    assert on_disk["complete"] and len(on_disk["history"]) == 2
    assert strip_timing(on_disk) == strip_timing(load_record(tmp_path / "full"))


def test_resume_refuses_a_checkpoint_of_another_search(tmp_path):
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", out=tmp_path,
                                 progress=False, device="cpu")
    run.run_epoch()
    with pytest.raises(CheckpointError, match=r"method: checkpoint='darts', now='fair-darts'"):
        nas_kit.prepare_search("fair-darts", "nb201", tiny_data(), profile="smoke", out=tmp_path,
                               progress=False, device="cpu", resume=True)


def test_load_record_rejects_broken_files(tmp_path):
    nas_kit.search("darts", "nb201", tiny_data(), profile="smoke", out=tmp_path, progress=False,
                   device="cpu", epochs=1)
    text = (tmp_path / "record.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(RecordError, match="not valid JSON"):
        load_record(tmp_path / "cut.json")
    rec = json.loads(text)
    del rec["history"][0]["weights"]["cell"][2]
    (tmp_path / "edited.json").write_text(json.dumps(rec))
    with pytest.raises(RecordError, match=r"weights\['cell'\] is not 6 x 5"):
        load_record(tmp_path / "edited.json")
    with pytest.raises(RecordError, match="no record"):
        load_record(tmp_path / "missing.json")
    assert load_record(tmp_path)["method"] == "darts"   # the run folder works too


def test_concurrent_runs_from_the_environment_is_kept_in_each_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_KIT_CONCURRENT_RUNS", "3")
    nas_kit.search("darts", "nb201", tiny_data(), profile="smoke", out=tmp_path / "shared",
                   progress=False, device="cpu")
    shared = load_record(tmp_path / "shared")             # the record format accepts it
    assert [e["concurrent_runs"] for e in shared["history"]] == [3, 3]
    monkeypatch.delenv("NAS_KIT_CONCURRENT_RUNS")
    alone = nas_kit.search("darts", "nb201", tiny_data(), profile="smoke", progress=False,
                           device="cpu", epochs=1)
    assert "concurrent_runs" not in alone["history"][0]


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", ""])
def test_a_bad_concurrent_runs_value_is_refused_naming_it(bad, monkeypatch):
    import importlib
    search_module = importlib.import_module("nas_kit.search")
    monkeypatch.setenv("NAS_KIT_CONCURRENT_RUNS", bad)
    with pytest.raises(ValueError, match=f"NAS_KIT_CONCURRENT_RUNS={bad!r}"):
        search_module._concurrent_runs()
    if bad == "two":   # and a search refuses it rather than recording it
        with pytest.raises(ValueError, match="NAS_KIT_CONCURRENT_RUNS='two'"):
            nas_kit.search("darts", "nb201", tiny_data(), profile="smoke", progress=False,
                           device="cpu", epochs=1)


def test_batch_larger_than_data_is_refused():
    with pytest.raises(ValueError, match="fewer than batch_size 64"):
        nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", batch_size=64,
                               progress=False)


# --- CLI ------------------------------------------------------------------------------------
def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["search", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for option in ("--method", "--space", "--dataset", "--profile", "--seed", "--out", "--resume",
                   "--set"):
        assert option in out
    assert "mim-darts" in out and "nb201" in out


@pytest.mark.parametrize("args,bad", [
    (["--method", "enas", "--space", "darts"], "enas"),
    (["--method", "darts", "--space", "nb101"], "nb101"),
    (["--method", "darts", "--space", "darts", "--dataset", "mnist"], "mnist"),
    (["--method", "darts", "--space", "darts", "--profile", "huge"], "huge"),
])
def test_cli_refuses_wrong_names_with_the_valid_list(args, bad, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["search", *args, "--out", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{bad}'" in err and "choose from" in err


def test_cli_search_writes_record_and_prints_genotype(tmp_path, capsys):
    code = main(["search", "--method", "fair-darts", "--space", "nb201", "--dataset", "synthetic",
                 "--profile", "smoke", "--out", str(tmp_path), "--no-progress",
                 "--set", "epochs=1", "--set", "limit=32"])
    assert code == 0
    out = capsys.readouterr().out
    record = load_record(tmp_path / "record.json")
    assert record["config"]["epochs"] == 1 and record["config"]["limit"] == 32
    assert f"genotype: {record['genotype']}" in out


def test_cli_bad_override_is_one_clear_line(tmp_path, capsys):
    code = main(["search", "--method", "darts", "--space", "nb201", "--dataset", "synthetic",
                 "--profile", "smoke", "--out", str(tmp_path), "--set", "epoch=3"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown config keys ['epoch']") and "epochs" in err


def test_cli_show_and_train_from_a_search_record(tmp_path, capsys):
    search_dir, figs, train_dir = tmp_path / "s", tmp_path / "figs", tmp_path / "t"
    assert main(["search", "--method", "darts", "--space", "nb201", "--dataset", "synthetic",
                 "--profile", "smoke", "--out", str(search_dir), "--no-progress"]) == 0
    assert main(["show", str(search_dir / "record.json"), "--out", str(figs)]) == 0
    written = {p.name for p in figs.iterdir()}
    assert {"cell_cell.png", "alpha_cell.png", "skip_counts.png", "losses.png"} <= written
    assert all((figs / name).stat().st_size > 1000 for name in written)
    assert main(["train", "--genotype", str(search_dir / "record.json"), "--space", "nb201",
                 "--dataset", "synthetic", "--profile", "smoke", "--out", str(train_dir),
                 "--no-progress"]) == 0
    trained = load_record(train_dir / "record.json")
    assert trained["genotype"] == load_record(search_dir)["genotype"]
    assert 0 <= trained["test_acc"] <= 100 and trained["num_weights"] > 0
    assert "test accuracy" in capsys.readouterr().out
