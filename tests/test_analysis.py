"""Measurement helpers used by the chapters."""
import numpy as np
import pytest
import torch

import nas_kit
from nas_kit import analysis, data, nb201


def _run(seed=0):
    return nas_kit.prepare_search("darts", "nb201", data.synthetic(n=64, image_size=16),
                                  profile="smoke", progress=False, device="cpu", seed=seed)


def test_alpha_gradients_are_the_mean_validation_gradient_per_op_and_change_nothing():
    run, twin = _run(), _run()
    before = [p.detach().clone() for p in run.model.parameters()]
    measured = analysis.alpha_gradients(run, batches=1)["cell"]
    assert all(torch.equal(a, b) for a, b in zip(before, run.model.parameters()))
    x, y = twin.val_loader.next()
    loss, _, _ = twin.objective(twin.model, x, y, alpha_level=True)
    grad = torch.autograd.grad(loss, twin.model.arch["alpha_cell"])[0].mean(0)
    assert list(measured) == list(twin.model.primitives)
    assert torch.allclose(torch.tensor(list(measured.values()), dtype=grad.dtype), grad, atol=1e-7)
    with pytest.raises(ValueError, match=r"batches must be an int >= 1, got 0"):
        analysis.alpha_gradients(run, batches=0)
    with pytest.raises(ValueError, match=r"got 2.5"):
        analysis.alpha_gradients(run, batches=2.5)


def test_alpha_gradient_samples_and_stats_agree_with_the_mean():
    # three twins read the same validation batches in the same order
    a, b, c = _run(), _run(), _run()
    samples = analysis.alpha_gradient_samples(a, batches=3)["cell"]
    means = analysis.alpha_gradients(b, batches=3)["cell"]
    stats = analysis.alpha_gradient_stats(c, batches=3)["cell"]
    assert list(samples) == list(means) == list(stats) == list(a.model.primitives)
    for op, v in samples.items():
        assert v.shape == (3,)
        assert means[op] == pytest.approx(v.mean(), abs=1e-12)
        m, se = stats[op]
        assert m == pytest.approx(v.mean(), abs=1e-12)
        assert se == pytest.approx(np.std(v, ddof=1) / np.sqrt(3), rel=1e-9) and se > 0
    # different batches give different gradients: the spread is real, not zero by construction
    assert len({round(float(x), 12) for x in samples["skip_connect"]}) == 3
    with pytest.raises(ValueError, match=r"standard error needs batches >= 2, got 1"):
        analysis.alpha_gradient_stats(a, batches=1)


def test_accuracy_per_epoch_looks_up_every_derived_cell():
    record = _run().run()
    epochs, accs = nb201.accuracy_per_epoch(record, "cifar100")
    assert epochs == [1, 2]
    assert accs == [nb201.lookup(e["genotype"]).cifar100_test for e in record["history"]]
    with pytest.raises(ValueError, match="need an 'nb201' search"):
        nb201.accuracy_per_epoch({**record, "space": "darts"})


def test_reconstruct_returns_pixel_images_and_leaves_the_run_unchanged():
    run = nas_kit.prepare_search("mim-darts", "nb201", data.synthetic(n=64, image_size=16),
                                 profile="smoke", progress=False, device="cpu")
    state = {k: v.clone() for k, v in run.model.state_dict().items()}
    original, masked, recon = analysis.reconstruct(run, n=4)
    assert original.shape == masked.shape == recon.shape == (4, 3, 16, 16)
    assert 0 <= float(recon.min()) and float(recon.max()) <= 1
    # exactly the masked patches differ: 16 patches of 4x4, int(16 * 0.2) = 3 kept
    changed = (original != masked).any(1).float().mean()
    assert abs(float(changed) - 13 / 16) < 0.02
    assert all(torch.equal(v, run.model.state_dict()[k]) for k, v in state.items())
    with pytest.raises(ValueError, match="no decoder"):
        analysis.reconstruct(_run())


CONV_CELLS = {
    "nb201": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "darts": "DARTS_V2",
}


def _op_params(model, space):
    """(cell type, edge, op index, parameter) of every candidate-op parameter."""
    for name, p in model.named_parameters():
        parts = name.split(".")
        if "edges" in parts and "ops" in parts:
            cell = model.cells[int(parts[1])]
            t = "cell" if space == "nb201" else ("reduce" if cell.reduction else "normal")
            yield t, int(parts[parts.index("edges") + 1]), int(parts[parts.index("ops") + 1]), p


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_hard_op_weights_make_the_supernet_compute_only_the_cell(space):
    run = nas_kit.prepare_search("darts", space, data.synthetic(n=64, image_size=16),
                                 profile="smoke", progress=False, device="cpu")
    model = run.model.train()
    cell = (nas_kit.published(CONV_CELLS[space]) if space == "darts"
            else nas_kit.parse_genotype(CONV_CELLS[space]))
    hard = analysis.hard_op_weights(model, cell)
    kept = {(t, e, o) for t, w in hard.items() for e, o in (w > 0).nonzero().tolist()}
    assert len(kept) == {"nb201": 6, "darts": 16}[space]
    model.op_weights, model.edge_weights = (lambda: hard), (lambda: None)
    x, _ = run.val_loader.next()
    with torch.no_grad():
        reference = model(x)
        for t, e, o, p in _op_params(model, space):
            if (t, e, o) not in kept:
                p.add_(1.0)
        assert torch.equal(model(x), reference)  # dropped ops contribute exactly nothing
        for t, e, o, p in _op_params(model, space):
            if (t, e, o) in kept:
                p.add_(1.0)
        assert not torch.allclose(model(x), reference)  # the kept ones do


def test_discretization_gap_is_zero_for_one_hot_alpha_and_changes_nothing():
    run = _run()
    cell = run.model.genotype()
    with torch.no_grad():  # softmax ≈ one-hot on the derived op of every edge (`none` included)
        alpha = run.model.arch["alpha_cell"]
        alpha.zero_()
        for e, op in enumerate(cell.ops):
            alpha[e, run.model.primitives.index(op)] = 60.0
    state = {k: v.clone() for k, v in run.model.state_dict().items()}
    gap = analysis.discretization_gap(run, batches=2)
    assert gap["gap"] == 0 and gap["supernet_acc"] == gap["derived_acc"]
    assert gap["genotype"] == str(cell)
    assert all(torch.equal(v, run.model.state_dict()[k]) for k, v in state.items())
    with pytest.raises(ValueError, match="batches must be >= 1"):
        analysis.discretization_gap(run, batches=0)


def test_discretization_gap_evaluates_the_relaxed_and_the_derived_network():
    run, twin = _run(), _run()
    gap = analysis.discretization_gap(run, batches=2)
    model = twin.model.train()
    hard = analysis.hard_op_weights(model, model.genotype())
    correct = {"supernet": 0, "derived": 0}
    with torch.no_grad():
        for _ in range(2):
            x, y = twin.val_loader.next()
            correct["supernet"] += int((model(x).argmax(1) == y).sum())
            model.op_weights, model.edge_weights = (lambda: hard), (lambda: None)
            correct["derived"] += int((model(x).argmax(1) == y).sum())
            del model.op_weights, model.edge_weights  # back to the class methods
    n = 2 * twin.cfg.batch_size
    assert gap["supernet_acc"] == pytest.approx(100 * correct["supernet"] / n)
    assert gap["derived_acc"] == pytest.approx(100 * correct["derived"] / n)


def _sigmoid_record(history, dataset="cifar10-jpeg", limit=None, batch_size=128):
    return {"method": "fair-darts", "relaxation": "sigmoid", "dataset": dataset,
            "config": {"limit": limit, "train_portion": 0.5, "batch_size": batch_size},
            "history": history}


def test_alpha_updates_count_the_steps_of_epochs_that_updated_alpha():
    w = {"cell": [[0.5, 0.5]]}
    history = [dict(weights=w, alpha_updated=flag) for flag in (False, True, True)]
    # 25,000 images per half in batches of 128, incomplete batch dropped: 195 per epoch
    assert analysis.alpha_updates(_sigmoid_record(history)) == [0, 195, 390]
    assert analysis.alpha_updates(_sigmoid_record(history, limit=5_000)) == [0, 19, 38]
    recorded = [dict(e, steps=7) for e in history]          # newer records store them
    assert analysis.alpha_updates(_sigmoid_record(recorded)) == [0, 7, 14]
    with pytest.raises(ValueError, match="stores no steps.*dataset 'synthetic'; known: .*cifar10"):
        analysis.alpha_updates(_sigmoid_record(history, dataset="synthetic"))


def test_a_search_record_stores_its_steps_per_epoch():
    run = _run()
    record = run.run()
    assert [e["steps"] for e in record["history"]] == [len(run.train_loader)] * 2
    assert analysis.alpha_updates(record) == [len(run.val_loader), 2 * len(run.val_loader)]


def test_decided_share_counts_sigmoid_weights_near_zero_or_one():
    history = [dict(weights={"normal": [[0.5, 0.9]], "reduce": [[0.1, 0.86]]}, alpha_updated=True),
               dict(weights={"normal": [[0.15, 0.85]], "reduce": [[0.14, 0.5]]}, alpha_updated=True)]
    assert analysis.decided_share(_sigmoid_record(history)) == [0.75, 0.25]
    assert analysis.decided_share(_sigmoid_record(history), low=0.2, high=0.8) == [0.75, 0.75]
    with pytest.raises(ValueError, match="relaxation is 'softmax'"):
        analysis.decided_share({**_sigmoid_record(history), "relaxation": "softmax"})
    with pytest.raises(ValueError, match="low < high"):
        analysis.decided_share(_sigmoid_record(history), low=0.9, high=0.1)


def test_shared_edges_counts_edges_with_two_strong_sigmoid_ops_in_the_last_epoch():
    first = dict(weights={"normal": [[0.9, 0.9]], "reduce": [[0.9, 0.9]]}, alpha_updated=True)
    last = dict(weights={"normal": [[0.9, 0.86, 0.1], [0.9, 0.2, 0.84]], "reduce": [[0.85, 0.85, 0.85]]},
                alpha_updated=True)
    record = _sigmoid_record([first, last])
    assert analysis.shared_edges(record) == (2, 3)
    assert analysis.shared_edges(record, level=0.8) == (3, 3)
    assert analysis.shared_edges(record, level=0.95) == (0, 3)
    with pytest.raises(ValueError, match="relaxation is 'softmax'"):
        analysis.shared_edges({**record, "relaxation": "softmax"})
    with pytest.raises(ValueError, match="level must be in"):
        analysis.shared_edges(record, level=0.3)
    with pytest.raises(ValueError, match="no epochs"):
        analysis.shared_edges({**record, "history": []})


def test_push_verdict_reads_a_sign_only_two_standard_errors_from_zero():
    assert analysis.push_verdict(-0.02, 0.005) == "up"        # descent raises α
    assert analysis.push_verdict(0.02, 0.005) == "down"
    assert analysis.push_verdict(0.009, 0.005) == "undecided"  # 1.8 standard errors
    assert analysis.push_verdict(-0.009, 0.005, z=1.5) == "up"
    assert analysis.push_verdict(0.0, 0.0) == "undecided"
    with pytest.raises(ValueError, match="standard error"):
        analysis.push_verdict(0.1, float("nan"))


def test_op_weight_drift_is_the_largest_distance_of_an_ops_mean_weight_from_uniform():
    prims = ["none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3"]   # uniform 0.25
    history = [dict(weights={"cell": [[0.25, 0.25, 0.25, 0.25], [0.25, 0.27, 0.24, 0.24]]}),
               dict(weights={"cell": [[0.20, 0.31, 0.25, 0.24], [0.25, 0.17, 0.29, 0.29]]}),
               dict(weights={"cell": [[0.25, 0.26, 0.25, 0.24], [0.25, 0.26, 0.25, 0.24]]})]
    record = dict(primitives=prims, relaxation="softmax", method="darts", history=history)
    # skip's mean per epoch: 0.26, 0.24, 0.26 -> the largest distance from 0.25 is 0.01
    assert analysis.op_weight_drift(record) == pytest.approx(0.01)
    # nor_conv_3x3: 0.245, 0.27, 0.25
    assert analysis.op_weight_drift(record, "nor_conv_3x3", "cell") == pytest.approx(0.02)
    with pytest.raises(ValueError, match="unknown op 'sep_conv_3x3'"):
        analysis.op_weight_drift(record, "sep_conv_3x3")
    with pytest.raises(ValueError, match="unknown cell type 'normal'; this record has \\['cell'\\]"):
        analysis.op_weight_drift(record, cell_type="normal")
    with pytest.raises(ValueError, match="relaxation is 'sigmoid'"):
        analysis.op_weight_drift({**record, "relaxation": "sigmoid"})
