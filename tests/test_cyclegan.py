import json
from pathlib import Path

import pytest
import torch

from course_lib.data import load_domain_pair, load_digits
from course_lib.losses import cycle_consistency_loss, identity_loss
from course_lib.models.cyclegan import PatchDiscriminator, ResnetGenerator, receptive_field
from course_lib.training import (CycleGANConfig, ImagePool, discriminator_losses, generator_losses, linear_decay,
                                 train_cyclegan)

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]


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

    from course_lib.metrics.protocol import evaluate_against

    scores = score_translations(identity, identity, pair, grey_judge, GreyingJudge())
    assert scores["X->Y"] == pytest.approx(accuracy(grey_judge, to_grey(pair.x_a), pair.y_a))
    assert scores["Y->X"] == pytest.approx(accuracy(grey_judge, to_grey(pair.x_b), pair.y_b))
    f_of_y = evaluate_against(to_grey(pair.x_b), to_grey(pair.x_a), "grey test digits of domain A")
    assert scores["FID F(y)"] == pytest.approx(f_of_y.fid) and scores["recall F(y)"] == pytest.approx(f_of_y.recall)
    assert scores["FID F(y)"] == pytest.approx(  # the digits protocol's network is the grey judge
        feature_distances(grey_judge, to_grey(pair.x_a), to_grey(pair.x_b))["fid"], rel=1e-4)
    assert scores["FID G(x)"] == pytest.approx(scores["FID F(y)"], rel=1e-4)  # the same two sets, either way round
    assert scores["colours G(x)"] == pytest.approx(colour_spread(pair.x_a))
    light = (pair.x_b.mean((1, 2, 3)) > 0).float().mean().item()
    assert 0 < light < 1 and 0 <= scores["light"] <= 1 and 0 <= scores["dark"] <= 1
    assert scores["Y->X"] == pytest.approx(light * scores["light"] + (1 - light) * scores["dark"])


# ------------------------------------------------------------ LSGAN as CycleGAN's paper has it
class _Constant(torch.nn.Module):
    """A discriminator whose every patch reads ``value``."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((len(x), 1, 5, 5), self.value) + 0 * x.mean()


class _Scale(torch.nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = torch.nn.Parameter(torch.tensor(factor))

    def forward(self, x):
        return self.factor * x


def test_generator_losses_weigh_the_cycle_as_the_paper_does():
    """The paper (and its code) minimise E (D(G(x)) − 1)² for G, un-halved, plus λ_cyc times the
    L1 cycle terms; only D's least-squares loss is halved. With D reading 0.5 everywhere each
    adversarial term is (0.5 − 1)² = 0.25 (the halved form would give 0.125, and λ_cyc = 10 would
    act as 20)."""
    from course_lib.training.cyclegan import g_loss_lsgan_unhalved

    G, F = _Scale(0.5), _Scale(1.0)
    x, y = torch.rand(4, 3, 28, 28) * 2 - 1, torch.rand(4, 3, 28, 28) * 2 - 1
    for lambda_cyc in (10.0, (10.0, 3.0)):
        config = CycleGANConfig(steps=1, lambda_cyc=lambda_cyc, lambda_id=0.0)
        terms = generator_losses(G, F, _Constant(0.5), _Constant(0.5), x, y, config, torch.Generator())
        assert terms["gan_G"].item() == pytest.approx(0.25) and terms["gan_F"].item() == pytest.approx(0.25)
        forward, backward = (0.5 * x - x).abs().mean(), (0.5 * y - y).abs().mean()  # F(G(x)) = x/2, G(F(y)) = y/2
        weights = config.cycle_weights
        assert terms["loss_G"].item() == pytest.approx(0.5 + weights[0] * forward.item() + weights[1] * backward.item())
    # gradients: one unit of cycle error costs λ_cyc = 10 times what one unit of (D − 1)² costs
    logits = torch.tensor([0.0], requires_grad=True)
    g_loss_lsgan_unhalved(logits).backward()
    assert logits.grad.item() == pytest.approx(-2.0)                  # d/dD (D − 1)² at D = 0
    loss_D_X, loss_D_Y = discriminator_losses(_Constant(0.5), _Constant(0.5), x, y, x, y,
                                              ImagePool(0), ImagePool(0))
    assert loss_D_X.item() == loss_D_Y.item() == pytest.approx(0.5 * 0.25 + 0.5 * 0.25)  # D's loss halved
    from course_lib import losses

    assert losses.g_loss_lsgan(torch.tensor([0.5])).item() == pytest.approx(0.125)  # lesson 02's stays halved


# ------------------------------------------------------------ F(y) against its own source
def test_f_of_y_is_scored_against_digits_that_exclude_its_sources(pair):
    """Domain B's photo digits are made from half of the 1,000 test digits that the digits
    protocol compares with: a translator that hands back each photo digit's grey source scores
    as the reference itself there (every sample is a reference point: precision 1). Against
    domain A's grey test digits, which exclude B's sources, it is scored as unseen digits."""
    from course_lib.metrics import evaluate
    from course_lib.metrics.protocol import evaluate_against
    from course_lib.metrics.translation import domain_a_reference, evaluate_f

    x_test = load_digits("test")[0]
    sources = x_test[pair.index_b]                                  # (500, 1, 28, 28): what F(y) can hand back
    reference, name = domain_a_reference(pair)
    assert torch.allclose(reference, x_test[pair.index_a], atol=1e-6)  # grey: the mean of three equal channels
    assert torch.cdist(reference.flatten(1), sources.flatten(1)).min() > 1.0  # none of B's sources in it
    with pytest.warns(UserWarning, match="protocol uses 1000"):
        handed_back = evaluate(sources, device=CPU)
    assert handed_back.precision == 1.0 and handed_back.reference == "1000 test digits"

    class HandBack(torch.nn.Module):  # F(y) = the grey source digit of photo digit y
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(()))

        def forward(self, y):
            index = torch.cdist(y.flatten(1), pair.x_b.flatten(1)).argmin(1)
            return sources[index].repeat(1, 3, 1, 1)

    result = evaluate_f(HandBack(), pair, device=CPU)
    again = evaluate_against(sources, reference, name, device=CPU)
    assert result.reference == again.reference == "500 grey test digits of domain A (disjoint from B's sources)"
    assert result.fid == pytest.approx(again.fid) and result.n_samples == 500
    assert result.precision < 0.97 and result.fid > 0.1   # scored as unseen digits, not handed back


def test_domain_judge_is_the_same_whatever_the_threads(pair):
    from types import SimpleNamespace

    from course_lib.metrics.translation import fit_domain_judge

    small = SimpleNamespace(x_b=pair.x_b[::5], y_b=pair.y_b[::5])    # 100 images: the mechanics, quickly
    threads = torch.get_num_threads()
    first, accuracy = fit_domain_judge(small, small, epochs=1, progress=False)
    assert torch.get_num_threads() == threads and not first.training and 0 <= accuracy <= 1
    second, _ = fit_domain_judge(small, small, epochs=1, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


# ------------------------------------------------------------ lesson 05 and its benchmark
def _benchmark():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cyclegan_benchmark", ROOT / "benchmarks" / "cyclegan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lesson_05_cells() -> list[str]:
    cells = json.loads((ROOT / "notebooks" / "05_cyclegan.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_lesson_05_and_its_benchmark_train_the_same_runs():
    """Every CycleGANConfig lesson 05 builds, evaluated at the cpu budget with COURSE_SEED 0, is a
    run benchmarks/cyclegan.py records (same settings, steps and seed); each of the lesson's
    ``variants`` is the benchmark's ablation run of the same name; the judge trains as long."""
    import ast

    benchmark = _benchmark()
    trees = [ast.parse(cell) for cell in _lesson_05_cells()]
    namespace = {"by_budget": lambda **budgets: budgets["cpu"], "seed": 0, "CycleGANConfig": CycleGANConfig}
    for name in ("full_steps", "ablation_steps", "variants"):  # the lesson's own lines, at the cpu budget
        node = next(node for tree in trees for node in tree.body if isinstance(node, ast.Assign)
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name)
        exec(compile(ast.Module([node], type_ignores=[]), "05_cyclegan", "exec"), namespace)
    variants = namespace["variants"]
    assert variants, "lesson 05 names its ablation's runs in a dict `variants`"
    calls = [node for tree in trees for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CycleGANConfig"]
    lesson = []
    for call in calls:
        code = compile(ast.fix_missing_locations(ast.Expression(call)), "05_cyclegan", "eval")
        if any(keyword.arg is None for keyword in call.keywords):  # **variants[name]: one per variant
            lesson += [(label, eval(code, namespace | {"name": label})) for label in variants]
        else:
            lesson.append((None, eval(code, namespace)))
    assert len(lesson) > len(variants), "the lesson trains its variants and at least one full-budget model"
    runs = {(name, steps): benchmark.make_config(name, steps, seed=0)
            for steps, names in benchmark.GROUPS.values() for name in names}
    for label, config in lesson:
        matches = [run for run, recorded in runs.items() if recorded == config]
        assert matches, f"lesson 05 trains {label or config}, which benchmarks/cyclegan.py does not record"
        if label is not None:
            assert matches == [(name, benchmark.ABLATION_STEPS) for name in benchmark.LABELS
                               if benchmark.LABELS[name] == label], label
    epochs = [eval(compile(ast.Expression(k.value), "05_cyclegan", "eval"), namespace)
              for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Call)
              and getattr(node.func, "id", None) in ("fit_classifier", "fit_domain_judge")
              for k in node.keywords if k.arg == "epochs"]
    assert epochs == [benchmark.JUDGE_EPOCHS], "the lesson's domain-Y judge trains as long as the benchmark's"



def test_lesson_05_trains_the_benchmarks_judge():
    assert any("fit_domain_judge(" in cell for cell in _lesson_05_cells())
    assert not any("fit_classifier(" in cell for cell in _lesson_05_cells())


def test_lesson_05_scores_f_of_y_against_domain_a():
    cells = _lesson_05_cells()
    assert any("evaluate_f(" in cell for cell in cells)
    assert not any("evaluate(to_grey(" in cell for cell in cells)


def test_benchmark_runs_and_rows_are_named_apart():
    benchmark = _benchmark()
    assert benchmark.runs_of("ablation,paper@2800,ablation") == [
        ("ablation", name, 500) for name in benchmark.GROUPS["ablation"][1]] + [("full_budget", "paper", 2800)]
    assert [name for _, name, _ in benchmark.runs_of("full_budget")] == ["paper", "back_translation", "full"]
    with pytest.raises(ValueError, match="paper@2800"):
        benchmark.runs_of("paper")
    with pytest.raises(ValueError):
        benchmark.runs_of("full@500")
