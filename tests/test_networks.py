"""Evaluation networks built from genotypes (DARTS, NB201) and training them from scratch.

Weight counts are checked against published or independently computed numbers:
DARTS_V1 3,169,414 is the "param size" the official code logged (quark0/darts#18), the
DARTS_V2 / aux-head / PC-DARTS values are the analytic counts of the research notes
(§3, §5), Fair DARTS counts are the README's (which include the aux head except for c),
and the NB201 counts equal the benchmark's own ``params`` column for those cells.
"""
import json

import pytest
import torch

from nas_kit.genotypes import PUBLISHED, DartsGenotype, parse_genotype, published
from nas_kit.spaces.darts_network import DartsEvalCell, DartsNetwork, drop_path, num_weights
from nas_kit.spaces.nb201_network import NB201Network
from nas_kit.records import load_record
from nas_kit.training import resolve_genotype, train_config, train_genotype

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
NB201_9930 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
              "|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")



def _paper_net(name):
    return DartsNetwork(published(name), C=36, num_classes=10, layers=20, auxiliary=True)


# ----------------------------------------------------------------------------- DARTS


def test_darts_paper_weight_counts():
    v2 = _paper_net("DARTS_V2")
    assert round(num_weights(v2) / 1e6, 3) == 3.349
    assert abs(num_weights(v2) - 3.35e6) <= 0.01e6
    aux = num_weights(v2, exclude_aux=False) - num_weights(v2)
    assert round(aux / 1e6, 3) == 0.476
    assert num_weights(_paper_net("DARTS_V1")) == 3_169_414       # logged by the official code
    assert round(num_weights(_paper_net("PC_DARTS_cifar")) / 1e6, 3) == 3.635


@pytest.mark.parametrize("name, readme_m, with_aux", [
    ("FairDARTS_a", 2.83, True), ("FairDARTS_b", 3.88, True), ("FairDARTS_c", 2.59, False),
    ("FairDARTS_d", 3.84, True), ("FairDARTS_e", 3.12, True), ("FairDARTS_f", 3.62, True),
    ("FairDARTS_g", 3.38, True)])
def test_fair_darts_sparse_cells_match_readme_sizes(name, readme_m, with_aux):
    # Sparse cells: absent nodes dropped from the concat. A wrong rule (e.g. keeping all 4
    # nodes, or building edges from absent nodes) shifts these by >= 0.1 M.
    net = _paper_net(name)
    assert abs(num_weights(net, exclude_aux=not with_aux) / 1e6 - readme_m) < 0.01


def test_small_darts_forward_shapes():
    torch.manual_seed(0)
    net = DartsNetwork(published("DARTS_V2"), C=8, num_classes=10, layers=5)
    x = torch.randn(2, 3, 32, 32)
    net.train()
    logits, aux = net(x)
    assert logits.shape == (2, 10) and aux.shape == (2, 10)
    net.eval()
    logits, aux = net(x)
    assert logits.shape == (2, 10) and aux is None
    no_aux = DartsNetwork(published("DARTS_V2"), C=8, layers=5, auxiliary=False).train()
    assert no_aux(x)[1] is None


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_published_genotype_builds_and_forwards(name):
    torch.manual_seed(0)
    net = DartsNetwork(PUBLISHED[name], C=8, num_classes=10, layers=5).train()
    logits, aux = net(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10) and aux.shape == (2, 10)
    assert torch.isfinite(logits).all()


def test_sparse_cell_concat_and_degenerate_cell():
    net = DartsNetwork(published("FairDARTS_a"), C=8, layers=5)
    normal = net.cells[0]
    assert normal.concat == (2, 4, 5) and normal.multiplier == 3    # node 3 has no input
    # FairDARTS_c's normal cell has an edge from the absent node 3: skipped, no crash.
    assert published("FairDARTS_c").normal[4] == ("skip_connect", 3, 5)
    assert DartsNetwork(published("FairDARTS_c"), C=8, layers=5).cells[0].concat == (2, 4, 5)
    # A cell whose concat nodes all lack inputs has no output: a clear error, not a crash.
    g = DartsGenotype(normal=[("sep_conv_3x3", 3, 4)], normal_concat=[4],
                      reduce=published("DARTS_V2").reduce, reduce_concat=[2, 3, 4, 5])
    with pytest.raises(ValueError, match="no output"):
        DartsNetwork(g, C=8, layers=5)


def test_aux_head_on_28px_input():
    net = DartsNetwork(published("DARTS_V2"), C=8, num_classes=10, layers=5, in_channels=1).train()
    logits, aux = net(torch.randn(2, 1, 28, 28))                   # 7x7 maps at the aux head
    assert logits.shape == (2, 10) and aux.shape == (2, 10)


def test_drop_path_zeroes_whole_samples_and_rescales():
    torch.manual_seed(0)
    x = torch.randn(64, 4, 5, 5)
    y = drop_path(x, 0.5)
    zeroed = (y.flatten(1) == 0).all(1)
    assert 0 < zeroed.sum() < 64
    torch.testing.assert_close(y[~zeroed], x[~zeroed] * 2)


def test_drop_path_in_cells_train_only_and_never_on_identity():
    torch.manual_seed(0)
    s0, s1 = torch.randn(64, 8, 8, 8), torch.randn(64, 8, 8, 8)
    # Node 2 = one sep conv: dropped samples become exactly 0, kept ones are scaled by 1/keep.
    cell = DartsEvalCell([("sep_conv_3x3", 1, 2)], [2], 8, 8, 8, False, False).train()
    ref = cell(s0, s1, 0.0)
    out = cell(s0, s1, 0.5)
    zeroed = (out.flatten(1) == 0).all(1)
    assert 0 < zeroed.sum() < 64
    torch.testing.assert_close(out[~zeroed], ref[~zeroed] * 2)
    cell.eval()
    torch.testing.assert_close(cell(s0, s1, 0.5), cell(s0, s1, 0.0))
    # Identity edges are never dropped.
    skip = DartsEvalCell([("skip_connect", 0, 2), ("skip_connect", 1, 2)], [2], 8, 8, 8,
                         False, False).train()
    torch.testing.assert_close(skip(s0, s1, 0.9), skip(s0, s1, 0.0))
    # The network passes its drop_path_prob attribute to the cells.
    net = DartsNetwork(published("DARTS_V2"), C=8, layers=5, drop_path_prob=0.5).train()
    x = torch.randn(4, 3, 32, 32)
    assert not torch.equal(net(x)[0], net(x)[0])
    net.eval()
    assert torch.equal(net(x)[0], net(x)[0])


# ----------------------------------------------------------------------------- NB201


@pytest.mark.parametrize("arch, params", [(ALL_SKIP, 73_306), (NB201_9930, 1_288_506)])
def test_nb201_network(arch, params):
    torch.manual_seed(0)
    net = NB201Network(parse_genotype(arch), C=16, num_classes=10, cells_per_stage=5)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # = the benchmark's "params" entry for this cell (NB201 cost table, CIFAR-10).
    assert sum(p.numel() for p in net.parameters()) == params


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("genotype, space", [("DARTS_V2", "darts"), (NB201_9930, "nb201")])
def test_train_genotype_smoke(tmp_path, genotype, space):
    # "DARTS_V2" goes in by its published name, the NB201 cell as its arch string.
    record = train_genotype(genotype, space, "synthetic", profile="smoke", out=tmp_path, progress=False)
    saved = json.loads((tmp_path / "record.json").read_text())
    assert saved.pop("checksum") and saved == json.loads(json.dumps(record))
    assert saved["format"] == "nas_kit/train-record-v1" and saved["kind"] == "train"
    assert saved["space"] == space and saved["dataset"] == "synthetic"
    assert saved["config"]["epochs"] == len(saved["history"]) >= 1
    assert 0.0 <= saved["test_acc"] <= 100.0 and saved["complete"]
    for key in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"):
        assert key in saved["history"][-1]
    assert {"torch", "python", "device", "device_name"} <= set(saved["env"])
    assert saved["num_weights"] > 0 and parse_genotype(saved["genotype"], space) is not None


def test_train_config_protocols_and_errors(tmp_path):
    darts = train_config("darts", "paper")
    assert (darts["lr"], darts["batch_size"], darts["init_channels"], darts["layers"],
            darts["epochs"], darts["cutout"], darts["auxiliary_weight"]) == (0.025, 96, 36, 20, 600, 16, 0.4)
    nb = train_config("nb201", "paper", epochs=3)
    assert (nb["lr"], nb["nesterov"], nb["batch_size"], nb["weight_decay"], nb["epochs"]) == \
        (0.1, True, 256, 5e-4, 3)
    with pytest.raises(ValueError, match="valid: .*auxiliary"):
        train_config("darts", "smoke", warmup=3)
    with pytest.raises(ValueError, match="darts, nb201"):
        train_genotype(published("DARTS_V2"), "imagenet", "synthetic", progress=False)
    with pytest.raises(ValueError, match="cifar10"):
        train_genotype(published("DARTS_V2"), "darts", "mnist", progress=False)
    with pytest.raises(ValueError, match="nb201"):
        train_genotype(NB201_9930, "darts", "synthetic", progress=False)


def test_resolve_genotype_from_record(tmp_path):
    import nas_kit
    from support import tiny_data
    record = nas_kit.search("darts", "nb201", tiny_data(), profile="smoke", device="cpu",
                            progress=False, out=tmp_path, epochs=1)
    g, space = resolve_genotype(tmp_path, None)
    assert space == "nb201" and str(g) == record["genotype"]
    assert resolve_genotype(str(tmp_path / "record.json"), "nb201")[0] == g
    edited = json.loads((tmp_path / "record.json").read_text())
    edited["genotype"] = NB201_9930  # a hand-edited record must not be trained from
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(ValueError, match="checksum mismatch"):
        resolve_genotype(str(tmp_path / "edited.json"), "nb201")
    with pytest.raises(ValueError, match="space='darts'"):
        resolve_genotype(tmp_path, "darts")
    text = str(published("DARTS_V2"))
    assert resolve_genotype(text, "darts")[0] == published("DARTS_V2")
    with pytest.raises(ValueError, match="neither genotype text"):
        resolve_genotype(str(tmp_path / "missing.json"), "darts")


@pytest.mark.parametrize("space,genotype", [
    ("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"),
    ("darts", "DARTS_V2"),   # drop-path and the auxiliary head draw random numbers
])
def test_interrupted_training_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, space, genotype):
    from nas_kit import training
    from support import strip_timing
    cell = published(genotype) if space == "darts" else genotype
    kw = dict(profile="smoke", progress=False, epochs=3, limit=32, test_limit=32, seed=1)
    whole = train_genotype(cell, space, "synthetic", out=tmp_path / "whole", **kw)

    real_save, calls = training.save_record, []

    def save_then_die(record, path):  # the process dies right after epoch 2 is on disk
        real_save(record, path)
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(training, "save_record", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_genotype(cell, space, "synthetic", out=tmp_path / "cut", **kw)
    monkeypatch.setattr(training, "save_record", real_save)
    resumed = train_genotype(cell, space, "synthetic", out=tmp_path / "cut", resume=True, **kw)
    assert [e["epoch"] for e in resumed["history"]] == [1, 2, 3]
    assert strip_timing(resumed["history"]) == strip_timing(whole["history"])
    assert resumed["test_acc"] == whole["test_acc"] and resumed["complete"]


def test_training_killed_before_its_last_record_resumes_to_a_complete_record(tmp_path, monkeypatch):
    from nas_kit import training
    from support import die_before_record, strip_timing
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    kw = dict(profile="smoke", progress=False, epochs=2, limit=32, test_limit=32, seed=1)
    whole = train_genotype(cell, "nb201", "synthetic", out=tmp_path / "whole", **kw)
    die_before_record(monkeypatch, training, 2)   # final checkpoint written, record not
    with pytest.raises(KeyboardInterrupt):
        train_genotype(cell, "nb201", "synthetic", out=tmp_path / "cut", **kw)
    monkeypatch.undo()
    assert not load_record(tmp_path / "cut")["complete"]
    train_genotype(cell, "nb201", "synthetic", out=tmp_path / "cut", resume=True, **kw)
    on_disk = load_record(tmp_path / "cut")
    assert on_disk["complete"] and on_disk["test_acc"] == whole["test_acc"]
    assert strip_timing(on_disk["history"]) == strip_timing(whole["history"])


def test_training_resume_refuses_another_training(tmp_path):
    from nas_kit.checkpoints import CheckpointError
    kw = dict(profile="smoke", progress=False, epochs=1, limit=32, test_limit=32)
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    train_genotype(cell, "nb201", "synthetic", out=tmp_path, seed=0, **kw)
    with pytest.raises(CheckpointError, match=r"another training; differences:\n  seed: checkpoint=0, now=1"):
        train_genotype(cell, "nb201", "synthetic", out=tmp_path, seed=1, resume=True, **kw)
    with pytest.raises(ValueError, match="resume needs `out`"):
        train_genotype(cell, "nb201", "synthetic", resume=True, **kw)
