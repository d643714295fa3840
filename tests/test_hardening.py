"""Trust under bad conditions: kills at any moment, non-finite losses, OOM, foreign files."""
import json
import os
import pickle
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import nas_kit
from nas_kit.__main__ import main
from nas_kit.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from nas_kit.records import RecordError, load_record
from nas_kit.search import NonFiniteError
from tests.support import strip_timing, tiny_data

ROOT = Path(__file__).resolve().parents[1]




def search_cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "nas_kit", "search", "--method", "mim-darts", "--space", "nb201",
            "--dataset", "synthetic", "--profile", "smoke", "--no-progress", "--device", "cpu",
            "--set", "epochs=5", "--out", str(out)]


def _mtime(path: Path) -> float:
    return path.stat().st_mtime_ns if path.exists() else 0


def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run(search_cmd(tmp_path / "reference"), check=True, env=env, capture_output=True)
    reference = load_record(tmp_path / "reference")
    epoch_seconds = max(e["seconds"] for e in reference["history"])
    kills = 0
    for trial in range(2):
        rng = random.Random(trial)
        out = tmp_path / f"trial{trial}"
        for attempt in range(20):
            proc = subprocess.Popen(search_cmd(out) + ["--resume"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # Let the run write one more checkpoint (so every attempt makes progress), then
            # SIGKILL it at a random moment of the next epochs: mid-step or mid-save.
            before = _mtime(out / "checkpoint.pt")
            while proc.poll() is None and _mtime(out / "checkpoint.pt") == before:
                time.sleep(0.02)
            try:
                proc.wait(timeout=rng.uniform(0.0, 2.5 * epoch_seconds))
                break
            except subprocess.TimeoutExpired:
                proc.kill()          # SIGKILL: no cleanup
                proc.wait()
                kills += 1
            assert load_checkpoint(out / "checkpoint.pt")["epoch"] >= 1   # still loadable
            load_record(out)                                             # so is the record
        else:
            pytest.fail("the search never finished")
        assert proc.returncode == 0, proc.stderr.read().decode()
        assert strip_timing(load_record(out)) == strip_timing(reference), f"trial {trial}"
        assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]   # no leftovers
    assert kills >= 2   # the kills really happened mid-search


def test_non_finite_loss_stops_with_epoch_and_step_and_keeps_last_good_state(tmp_path):
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", out=tmp_path,
                                 progress=False, device="cpu", epochs=3)
    run.run_epoch()
    good = (tmp_path / "checkpoint.pt").read_bytes()
    with torch.no_grad():
        run.model.classifier.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteError, match=r"non-finite values \(loss, ce\) in epoch 2 of 3, first at w-step 1.* of 2 .*"
                       r"record \(epoch 1\) are kept"):
        run.run_epoch()
    assert (tmp_path / "checkpoint.pt").read_bytes() == good
    assert len(load_record(tmp_path)["history"]) == 1


def test_cuda_out_of_memory_is_explained(monkeypatch, tmp_path):
    run = nas_kit.prepare_search("darts", "nb201", tiny_data(), profile="smoke", progress=False,
                                 device="cpu")

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(run, "run_epoch", oom)
    with pytest.raises(torch.cuda.OutOfMemoryError,
                       match=r"batch_size 16, profile smoke.*batch_size=8"):
        run.run()


def test_checkpoint_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "checkpoint.pt"
    with open(path, "wb") as f:
        torch.save({"format": "nas_kit/checkpoint-v1", "payload": Exploit()}, f)
    with pytest.raises(CheckpointError, match="not a loadable nas_kit checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"format": "nas_kit/checkpoint-v1"}))
    with pytest.raises(CheckpointError):
        load_checkpoint(plain)


def test_truncated_or_foreign_checkpoints_are_refused(tmp_path):
    path = save_checkpoint({"epoch": 1, "w": torch.ones(1000)}, tmp_path / "c.pt")
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="truncated, foreign or unsafe"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"epoch": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a nas_kit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_hand_edited_record_is_detected(tmp_path):
    nas_kit.search("darts", "nb201", tiny_data(), profile="smoke", out=tmp_path, progress=False,
                   device="cpu", epochs=1)
    record = json.loads((tmp_path / "record.json").read_text())
    record["history"][0]["val_acc"] = 99.9
    (tmp_path / "edited.json").write_text(json.dumps(record))
    with pytest.raises(RecordError, match="changed after nas_kit wrote it"):
        load_record(tmp_path / "edited.json")


@pytest.mark.parametrize("change,message", [
    (dict(space="darts"), "space: checkpoint='nb201', now='darts'"),
    (dict(seed=1), "seed: checkpoint=0, now=1"),
    (dict(w_lr=0.1), "w_lr: checkpoint=0.025, now=0.1"),
])
def test_resume_refuses_incompatible_config_and_says_what_differs(tmp_path, change, message):
    kw = dict(method="darts", space="nb201", profile="smoke", progress=False, device="cpu")
    nas_kit.prepare_search(dataset=tiny_data(), out=tmp_path, **kw).run_epoch()
    with pytest.raises(CheckpointError, match="belongs to another search") as e:
        nas_kit.prepare_search(dataset=tiny_data(), out=tmp_path, resume=True, **{**kw, **change})
    assert message in str(e.value)


@pytest.mark.parametrize("setting,message", [
    ("epochs=abc", "epochs must be int, got 'abc'"),
    ("alpha_betas=[0.9]", "alpha_betas must be a pair of numbers"),
    ("relaxation=tanh", "relaxation 'tanh'; valid: softmax, sigmoid"),
    ("mask_ratio=2", "mask_ratio must be in [0, 1), got 2.0"),
    ("partial_channels=3", "partial_channels K=3 must divide init_channels 4"),
    ("nonsense", "--set expects key=value"),
])
def test_bad_cli_values_get_one_clear_line(tmp_path, capsys, setting, message):
    try:
        code = main(["search", "--method", "darts", "--space", "nb201", "--dataset", "synthetic",
                     "--profile", "smoke", "--out", str(tmp_path), "--set", setting])
    except SystemExit as e:
        code, err = e.code, str(e)
    else:
        err = capsys.readouterr().err
    assert code == 2 or str(code).startswith("error")
    assert message in err and "Traceback" not in err


def test_profile_env_var_is_checked(monkeypatch):
    monkeypatch.setenv("NAS_KIT_PROFILE", "turbo")
    with pytest.raises(ValueError, match="environment variable NAS_KIT_PROFILE 'turbo'.*smoke"):
        nas_kit.get_profile()


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


def test_records_name_the_commit_and_whether_nas_kit_was_modified(tmp_path):
    from nas_kit.records import read_git_state
    repo, pkg = tmp_path / "repo", tmp_path / "repo" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (repo / "README").write_text("outside the package\n")
    assert read_git_state(pkg) == (None, None)               # not a checkout
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert read_git_state(pkg) == (head, False)
    (repo / "README").write_text("changed outside the package\n")
    assert read_git_state(pkg) == (head, False)              # only the package's files count
    (pkg / "__init__.py").write_text("x = 2\n")
    assert read_git_state(pkg) == (head, True)
    # a package copied into a checkout that does not track it (a venv inside a repository)
    other = repo / "venv" / "pkg"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("x = 3\n")
    assert read_git_state(other) == (None, None)


def test_the_environment_line_names_the_commit_nas_kit_was_imported_from(monkeypatch):
    from nas_kit import records
    monkeypatch.setenv("NAS_KIT_GIT_COMMIT", "0123456789abcdef")
    env = records.environment("cpu")
    threads = torch.get_num_threads()
    assert env["device"] == "cpu"
    assert env["device_name"].startswith("CPU (") and f", {threads} thread" in env["device_name"]
    assert "device: CPU (" in nas_kit.describe_environment("smoke")
    # the CPU's kernels decide CPU float sums: the record names the instruction set
    capability = torch.backends.cpu.get_cpu_capability()
    assert env["cpu"].endswith(f"(ATen {capability})") and len(env["cpu"]) > len(capability) + 8
    monkeypatch.setattr(records, "_cpu_model", lambda: "Test CPU 9000")
    assert records.environment("cpu")["cpu"] == f"Test CPU 9000 (ATen {capability})"
    assert env["git_commit"] == "0123456789abcdef" and env["git_modified"] is None
    assert "nas_kit 0.1.0 (0123456)" in nas_kit.describe_environment("smoke")
    monkeypatch.delenv("NAS_KIT_GIT_COMMIT")
    commit = records.git_commit()
    if not (Path(nas_kit.__file__).resolve().parents[1] / ".git").exists():
        # an installed nas_kit (.ci/compat): no checkout to name, and no guess
        assert commit is None and records.git_modified() is None
        return
    # imported from a checkout (CI): the commit read at import is its HEAD or, if the
    # checkout has moved on since, an ancestor of it
    assert commit is not None and len(commit) == 40
    subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=ROOT, check=True)
