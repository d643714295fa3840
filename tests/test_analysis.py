"""Measurement helpers used by the chapters."""
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
    assert torch.allclose(torch.tensor(list(measured.values())), grad, atol=1e-7)
    with pytest.raises(ValueError, match="batches must be >= 1"):
        analysis.alpha_gradients(run, batches=0)


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
