"""benchmarks/alpha_gradient_noise.py: how many batches an α-gradient probe needs."""
import json

import numpy as np
import pytest

from support import load_script


def test_few_and_many_batch_means_with_standard_errors(tmp_path):
    noise = load_script("alpha_gradient_noise")
    out = tmp_path / "noise.json"
    result = noise.main(["--methods", "darts", "--profile", "smoke", "--dataset", "synthetic",
                         "--epochs", "1", "--batches", "5", "--few", "3", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    (r,) = result["methods"]
    assert r["method"] == "darts" and r["device"] == "cpu"
    assert list(r["ops"]) == ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    for o in r["ops"].values():
        (m_few, se_few), (m_all, se_all) = o["few"], o["all"]
        assert se_few > 0 and se_all > 0
        assert o["kept"] == (np.sign(m_few) == np.sign(m_all))
        assert o["decided"] == (abs(m_all) >= 2 * se_all)
    assert result["env"]["device"] == "cpu" and "cpu" in result["env"]
    # the few batches are the first of the many: a probe with --few = --batches agrees with itself
    same = noise.main(["--methods", "darts", "--profile", "smoke", "--dataset", "synthetic",
                       "--epochs", "1", "--batches", "3", "--few", "3", "--out", str(out)])
    assert all(o["few"] == o["all"] and o["kept"] for o in same["methods"][0]["ops"].values())
    assert same["methods"][0]["ops"]["skip_connect"]["few"] == pytest.approx(r["ops"]["skip_connect"]["few"])


def test_bad_batch_counts_are_named(capsys):
    noise = load_script("alpha_gradient_noise")
    for few in ("1", "8"):
        with pytest.raises(SystemExit):
            noise.main(["--few", few, "--batches", "4", "--dataset", "synthetic"])
        assert f"need 2 <= --few <= --batches, got --few {few}, --batches 4" in capsys.readouterr().err


def test_every_epoch_probes_before_training_and_after_each_epoch(tmp_path):
    noise = load_script("alpha_gradient_noise")
    result = noise.main(["--methods", "darts", "--profile", "smoke", "--dataset", "synthetic",
                         "--epochs", "2", "--batches", "3", "--few", "2", "--every-epoch",
                         "--out", str(tmp_path / "n.json")])
    r = result["methods"][0]
    assert len(r["per_epoch"]) == 3 and r["per_epoch"][-1] == r["ops"]
    # the weights train between probes: the fresh supernet's gradients differ from the last
    assert r["per_epoch"][0]["skip_connect"]["all"] != r["ops"]["skip_connect"]["all"]
    plain = noise.main(["--methods", "darts", "--profile", "smoke", "--dataset", "synthetic",
                        "--epochs", "2", "--batches", "3", "--few", "2", "--out", str(tmp_path / "p.json")])
    assert plain["methods"][0]["per_epoch"] is None
