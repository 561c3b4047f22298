import pytest
import torch

from course_lib.data import load_domain_pair, load_digits
from course_lib.losses import cycle_consistency_loss, identity_loss
from course_lib.models.cyclegan import PatchDiscriminator, ResnetGenerator, receptive_field
from course_lib.training import CycleGANConfig, ImagePool, linear_decay, train_cyclegan

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def pair():
    return load_domain_pair("test")


def test_domain_pair_shapes_ranges_and_labels(pair):
    assert pair.x_a.shape == pair.x_b.shape == (500, 3, 28, 28)
    assert torch.bincount(pair.y_a).tolist() == torch.bincount(pair.y_b).tolist() == [50] * 10
    for x in (pair.x_a, pair.x_b):
        assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert torch.equal(pair.x_a[:, 0], pair.x_a[:, 1])  # grey: three equal channels
    assert not torch.equal(pair.x_b[:, 0], pair.x_b[:, 1])  # colour


def test_domain_pair_is_unpaired_and_deterministic(pair):
    assert not set(pair.index_a.tolist()) & set(pair.index_b.tolist())
    x_test, y_test = load_digits("test")
    assert torch.equal(pair.x_a[:, :1], x_test[pair.index_a]) and torch.equal(pair.y_b, y_test[pair.index_b])
    again = load_domain_pair("test")
    assert torch.equal(again.x_b, pair.x_b)
    assert not torch.equal(load_domain_pair("test", seed=1).x_b, pair.x_b)
    train = load_domain_pair("train")
    assert train.x_a.shape[0] == train.x_b.shape[0] == 2000


def test_generator_and_patch_discriminator_shapes():
    G, D = ResnetGenerator(width=8, n_blocks=1), PatchDiscriminator(width=8)
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    y = G(x)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert D(x).shape == (2, 1, 5, 5)


def test_receptive_field():
    assert receptive_field([(3, 1)]) == 3
    assert receptive_field([(3, 1), (3, 1)]) == 5
    assert receptive_field([(4, 2), (4, 2), (3, 1), (3, 1)]) == 26
    assert receptive_field([(4, 2)] * 3 + [(4, 1), (4, 1)]) == 70  # the paper's 70x70 PatchGAN


def test_cycle_and_identity_losses_hand_computed():
    a = torch.zeros(1, 1, 2, 2)
    b = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])
    assert cycle_consistency_loss(a, b).item() == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    assert identity_loss(b, a).item() == pytest.approx(0.625)


def test_image_pool_fills_then_mixes():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as they are
    assert len(pool.images) == 4
    new = 100 + torch.arange(200.0).view(200, 1, 1, 1)  # distinct values
    out = pool.query(new)
    from_history = (out != new).sum().item()  # swapped for a stored image, with probability ½
    assert 60 < from_history < 140
    assert set(out.flatten().tolist()) <= set(range(4)) | set(range(100, 300))
    assert ImagePool(size=0).query(new) is new
    restored = ImagePool(size=4, seed=5)
    restored.load_state_dict(pool.state_dict())
    assert torch.equal(restored.query(new[:8]), pool.query(new[:8]))


def test_linear_decay():
    factor = linear_decay(steps=10, decay_start=5)
    assert [factor(s) for s in (0, 4, 5, 6, 10)] == [1.0, 1.0, 1.0, 0.8, 0.0]


def _run(steps, checkpoint=None, **kw):
    torch.manual_seed(0)
    nets = (ResnetGenerator(width=4, n_blocks=1), ResnetGenerator(width=4, n_blocks=1),
            PatchDiscriminator(width=4), PatchDiscriminator(width=4))
    x, y = torch.rand(20, 3, 28, 28) * 2 - 1, torch.rand(20, 3, 28, 28) * 2 - 1
    config = CycleGANConfig(steps=steps, batch_size=4, decay_start=4, pool_size=6, checkpoint_every=3, **kw)
    return train_cyclegan(*nets, x, y, config, checkpoint=checkpoint, progress=False, device=CPU)


def test_cyclegan_resume_equals_uninterrupted(tmp_path):
    full = _run(6)
    _run(3, checkpoint=tmp_path / "c.pt")
    resumed = _run(6, checkpoint=tmp_path / "c.pt")
    for a, b in zip(full.G.parameters(), resumed.G.parameters()):
        assert torch.equal(a, b)
    assert full.history["loss_D_Y"] == resumed.history["loss_D_Y"]
    assert resumed.checkpoint.parent == tmp_path and not list(tmp_path.glob(".*.tmp"))


def test_cycle_weights_per_direction():
    both = _run(3, lambda_cyc=4.0)
    same = lambda a, b: all(a.history[k] == b.history[k] for k in a.history if k != "step_seconds")
    assert same(_run(3, lambda_cyc=(4.0, 4.0)), both)                   # a pair of equal weights = one weight
    assert same(_run(3, lambda_cyc=(0.0, 0.0)), _run(3, lambda_cyc=0.0))
    forward_only = _run(3, lambda_cyc=(4.0, 0.0))
    assert forward_only.history["gan_G"][0] == both.history["gan_G"][0]  # same first step ...
    assert forward_only.history["loss_G"][0] < both.history["loss_G"][0]  # ... without the backward term


def test_ablation_switches():
    run = _run(2, lambda_id=0.0, lambda_cyc=0.0)
    assert run.history["identity"] == [0.0, 0.0]
    assert all(abs(g - (a + b)) < 1e-5 for g, a, b in zip(run.history["loss_G"], run.history["gan_G"],
                                                           run.history["gan_F"]))


def test_cyclegan_photo_sets_offline_and_from_disk(monkeypatch, tmp_path):
    import urllib.request

    import numpy as np
    from PIL import Image

    from course_lib import data

    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="horse2zebra"):
        data.download_cyclegan_dataset("cats2dogs")

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(data.DatasetUnavailableError, match="load_domain_pair"):
        data.download_cyclegan_dataset("horse2zebra")
    assert not (tmp_path / "cyclegan" / "horse2zebra.zip").exists()  # no half-written archive
    for side in ("A", "B"):  # an unpacked set on disk is used without any download
        folder = tmp_path / "cyclegan" / "horse2zebra" / f"train{side}"
        folder.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((10, 12, 3), 40 * i, np.uint8)).save(folder / f"{i}.jpg")
    x_a, x_b = data.load_cyclegan_photos("horse2zebra", size=16)
    assert x_a.shape == x_b.shape == (2, 3, 16, 16) and x_a.min() >= -1 and x_a.max() <= 1


def test_back_translation_trains_only_the_generator_that_rebuilds():
    gan_only = _run(1, lambda_cyc=0.0)
    forward = _run(1, lambda_cyc=(4.0, 0.0), back_translation=True)   # x -> G(x) (constant) -> F
    backward = _run(1, lambda_cyc=(0.0, 4.0), back_translation=True)  # y -> F(y) (constant) -> G
    same = lambda a, b: all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert same(forward.G, gan_only.G) and not same(forward.F, gan_only.F)
    assert same(backward.F, gan_only.F) and not same(backward.G, gan_only.G)
    coupled = _run(1, lambda_cyc=(4.0, 0.0))                            # the paper: the cycle trains G too
    assert not same(coupled.G, gan_only.G)
    assert coupled.history["cycle"] == forward.history["cycle"]        # same values, other gradients


def test_inversion_augmentation():
    from course_lib.augment import diff_augment, inversion
    x = torch.rand(400, 3, 4, 4) * 2 - 1
    out = inversion(x, torch.Generator().manual_seed(0))
    inverted = (out == -x).flatten(1).all(1)
    assert ((out == x).flatten(1).all(1) | inverted).all()             # each image kept or negated whole
    assert 150 < inverted.sum().item() < 250                            # about half of them
    assert torch.equal(diff_augment(x, "inversion", torch.Generator().manual_seed(0)), out)


def test_cyclegan_resume_with_back_translation_and_inversion(tmp_path):
    kw = dict(back_translation=True, augment_forward="inversion")
    full = _run(6, **kw)
    _run(3, checkpoint=tmp_path / "c.pt", **kw)
    resumed = _run(6, checkpoint=tmp_path / "c.pt", **kw)
    assert all(full.history[k] == resumed.history[k] for k in full.history if k != "step_seconds")
    assert full.history["cycle"] != _run(6, back_translation=True).history["cycle"]  # the inversion did something


def test_score_translations_wires_each_judge_to_its_direction():
    """With translators that return their input, every figure is a known quantity: G(x) = x read
    by the X->Y judge, F(y) = y greyed read by the grey judge, and the distances between the sets."""
    from course_lib.data import load_domain_pair
    from course_lib.metrics import (accuracy, colour_spread, feature_distances, load_digits_evaluator,
                                    score_translations, to_grey)

    pair = load_domain_pair("test")
    identity = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    grey_judge = load_digits_evaluator()

    class GreyingJudge(torch.nn.Module):  # reads 3-channel images through the grey judge
        def __init__(self):
            super().__init__()
            self.inner = grey_judge

        def forward(self, x):
            return self.inner(to_grey(x))

        def embed(self, x):
            return self.inner.embed(to_grey(x))

    scores = score_translations(identity, identity, pair, grey_judge, GreyingJudge())
    assert scores["X->Y"] == pytest.approx(accuracy(grey_judge, to_grey(pair.x_a), pair.y_a))
    assert scores["Y->X"] == pytest.approx(accuracy(grey_judge, to_grey(pair.x_b), pair.y_b))
    assert scores["FID F(y)"] == pytest.approx(feature_distances(grey_judge, to_grey(pair.x_a), to_grey(pair.x_b))["fid"])
    assert scores["FID G(x)"] == pytest.approx(scores["FID F(y)"])  # the same two sets, greyed, either way round
    assert scores["colours G(x)"] == pytest.approx(colour_spread(pair.x_a))
    assert 0 <= scores["light"] <= 1
