import pytest
import torch

from course_lib import config


@pytest.mark.parametrize("value", ["smoke", "cpu", "gpu", " CPU "])
def test_budget_from_environment(monkeypatch, value):
    monkeypatch.setenv("COURSE_BUDGET", value)
    assert config.get_budget() == value.strip().lower()


def test_budget_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_BUDGET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_budget() == "gpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.get_budget() == "cpu"


def test_bad_budget_lists_valid_values(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "laptop")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        config.get_budget()


def test_by_budget_picks_the_current_value(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    assert config.by_budget(smoke=1, cpu=2, gpu=3) == 1
    assert config.by_budget(smoke=1, cpu=2, gpu=3, budget="gpu") == 3
    with pytest.raises(ValueError, match="unknown budget"):
        config.by_budget(1, 2, 3, budget="tpu")


def test_device_order(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert config.get_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.get_device().type == "cpu"


def _tiny_training_run(seed: int) -> tuple[torch.Tensor, list[float]]:
    generator = config.seed_everything(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        x = torch.randn(32, 4)
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    z = torch.randn(8, 4, generator=generator)
    return torch.cat([p.detach().flatten() for p in model.parameters()] + [z.flatten()]), losses


def test_seed_everything_repeats_a_run_bit_for_bit():
    params_a, losses_a = _tiny_training_run(123)
    params_b, losses_b = _tiny_training_run(123)
    params_c, _ = _tiny_training_run(124)
    assert torch.equal(params_a, params_b)
    assert losses_a == losses_b
    assert not torch.equal(params_a, params_c)


def test_seed_must_be_a_non_negative_int():
    with pytest.raises(ValueError):
        config.seed_everything(-1)


def test_data_dir_honours_course_data(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "elsewhere"))
    assert config.data_dir() == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere").is_dir()
    monkeypatch.delenv("COURSE_DATA")
    assert config.data_dir() == config.repo_root() / "data"


MINUTES = {"smoke": 0.5, "cpu": 3, "gpu": 2}


def test_setup_notebook_prints_device_budget_minutes_and_seed(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    monkeypatch.delenv("COURSE_SEED", raising=False)
    device, budget, seed = config.setup_notebook("00_welcome", minutes=MINUTES)
    out = capsys.readouterr().out
    assert budget == "smoke" and seed == 0 and str(device) in out and "smoke" in out
    assert "about 0.5 min" in out and "seed     : 0" in out
    elapsed, expected = config.minutes_since_setup("00_welcome")
    assert 0 <= elapsed < 1 and expected == 0.5
    assert config.minutes_since_setup("never_set_up") is None
    with pytest.raises(ValueError, match="missing"):
        config.setup_notebook("99_new_lesson", minutes={"cpu": 3})


def test_a_new_lesson_needs_no_edit_to_config(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_BUDGET", "cpu")
    _, budget, _ = config.setup_notebook("99_a_lesson_config_has_never_heard_of", minutes=MINUTES)
    assert budget == "cpu" and "about 3 min" in capsys.readouterr().out


def test_course_seed_from_environment(monkeypatch):
    monkeypatch.setenv("COURSE_SEED", "2")
    assert config.get_seed() == 2
    _, _, seed = config.setup_notebook("00_welcome", minutes=MINUTES)
    assert seed == 2
    assert config.checkpoint_path("03_plain", budget="cpu").name == "03_plain_cpu_seed2.pt"
    monkeypatch.setenv("COURSE_SEED", "-1")
    with pytest.raises(ValueError, match="COURSE_SEED"):
        config.get_seed()
    monkeypatch.setenv("COURSE_SEED", "one")
    with pytest.raises(ValueError, match="non-negative integer"):
        config.get_seed()
    monkeypatch.delenv("COURSE_SEED")
    assert config.get_seed() == 0
