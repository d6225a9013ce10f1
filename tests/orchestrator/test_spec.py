from pathlib import Path

import pytest
import yaml

from orchestrator.spec import GridError, expand, load_grid, parse_grid

BASE = {"axes": {"arch": ["resnet14"], "dataset": ["digits"], "loss": ["ce"], "batch_size": [64], "lr": [0.1],
                 "seed": [0]}, "fixed": {"steps": 10}}


def _grid(**changes):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return raw


def test_paper_preset_is_the_full_study():
    trials = expand(load_grid("paper"))
    assert len(trials) == 480 and len({t.trial_id for t in trials}) == 480
    sizes = {(t.depth, t.batch_size) for t in trials}
    assert {b for d, b in sizes if d == 110} == {128, 256, 512}
    assert {b for d, b in sizes if d == 56} == {128, 512, 1024}
    assert {t.lr for t in trials} == {0.001, 0.01, 0.05, 0.1, 0.5}
    assert all(t.augment == (t.dataset == "cifar10") for t in trials)
    assert sum(not t.shortcut for t in trials) == 240 and all(t.epochs == 500 for t in trials)


def test_overrides_exclusions_shortcut_axis_and_sets():
    raw = _grid(axes={"arch": ["resnet14", "resnet20"], "shortcut": [True, False], "lr": [0.1, 0.5]},
                overrides=[{"match": {"arch": "resnet20"}, "axes": {"batch_size": [32, 16]},
                            "fixed": {"steps": 5}}],
                exclude=[{"arch": "resnet14", "shortcut": False, "lr": 0.5}])
    trials = expand(parse_grid(raw))
    ids = [t.trial_id for t in trials]
    assert "resnet14-noshort_digits_ce_bs64_lr0.5_seed0" not in ids
    assert len(ids) == 3 + 2 * 2 * 2
    assert {t.batch_size for t in trials if t.depth == 20} == {32, 16}
    assert {t.steps for t in trials if t.depth == 20} == {5} and {t.steps for t in trials if t.depth == 14} == {10}
    smoke = expand(load_grid("smoke", ["steps=7", "lr=[0.2, 0.3]", "seed=4"]))
    assert {(t.steps, t.lr, t.seed) for t in smoke} == {(7, 0.2, 4), (7, 0.3, 4)} and len(smoke) == 4


def test_data_root_becomes_absolute(tmp_path):
    trials = expand(parse_grid(_grid(fixed={"data_root": "rel/data"})), data_root_base=tmp_path)
    assert trials[0].data_root == str(tmp_path / "rel" / "data")


@pytest.mark.parametrize("changes,message", [
    ({"axes": {"arch": ["resnet15"]}}, "arch: 'resnet15' is not allowed; use one of resnet14"),
    ({"axes": {"dataset": ["imagenet"]}}, "dataset: 'imagenet' is not allowed; use one of digits, mnist, cifar10"),
    ({"axes": {"loss": ["mse"]}}, "loss: 'mse' is not allowed; use one of ce, kl"),
    ({"axes": {"lr": [0.1, -1]}}, "lr: -1.0 must be a finite number > 0"),
    ({"axes": {"batch_size": [0]}}, "batch_size: 0 must be a finite number > 0"),
    ({"axes": {"batch_size": ["big"]}}, "batch_size: 'big' is a str; expected int"),
    ({"axes": {"lr": []}}, "axes.lr: empty list"),
    ({"axes": {"colour": ["red"]}}, "axes: unknown field(s) ['colour']"),
    ({"fixed": {"epochz": 3}}, "fixed: unknown field(s) ['epochz']"),
    ({"exclude": [{"arch": "resnet14"}]}, "grid: no trials left"),
    ({"extra": 1}, "grid: unknown section(s) ['extra']"),
])
def test_bad_grids_get_one_line_errors(changes, message):
    with pytest.raises(GridError) as err:
        expand(parse_grid(_grid(**changes)))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_empty_and_unreadable_grids(tmp_path):
    with pytest.raises(GridError, match="axes: empty"):
        parse_grid({"axes": {}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("axes: [unclosed")
    with pytest.raises(GridError, match=r"bad.yaml is not readable YAML"):
        load_grid(str(bad))
    with pytest.raises(GridError, match=r"'nope' is neither a preset \(demo, paper, smoke\) nor a YAML file"):
        load_grid("nope")
    with pytest.raises(GridError, match="--set: 'steps' is not key=value"):
        load_grid("smoke", ["steps"])


def test_analysis_section():
    assert parse_grid(_grid()).analysis == {"window": 1000}
    assert parse_grid(_grid(analysis={"window": 250})).analysis == {"window": 250}
    with pytest.raises(GridError, match="analysis.window: 2 must be an integer"):
        parse_grid(_grid(analysis={"window": 2}))
    with pytest.raises(GridError, match=r"analysis: unknown field\(s\) \['lags'\]"):
        parse_grid(_grid(analysis={"lags": 3}))


def test_demo_preset_runs_offline_with_both_shortcut_settings():
    trials = expand(load_grid("demo"))
    assert {t.arch for t in trials} == {"resnet14", "resnet14-noshort"}
    assert all(t.dataset == "digits" and not t.data_root for t in trials) and len(trials) >= 4
    assert load_grid("demo").analysis["window"] * 2 <= min(t.steps for t in trials)  # early and later windows


def test_matching_sees_the_shortcut_axis_and_the_arch_name_alike():
    paper = yaml.safe_load((Path(__file__).resolve().parents[2] / "orchestrator/presets/paper.yaml").read_text())
    for rule in ({"arch": "resnet110-noshort", "lr": 0.5}, {"arch": "resnet110", "shortcut": False, "lr": 0.5}):
        trials = expand(parse_grid({**paper, "exclude": [rule]}))
        assert len(trials) == 480 - 12, rule  # 3 batch sizes x 2 datasets x 2 losses
    raw = _grid(axes={"arch": ["resnet14", "resnet14-noshort"]},
                overrides=[{"match": {"shortcut": False}, "fixed": {"steps": 3}}])
    assert {(t.arch, t.steps) for t in expand(parse_grid(raw))} == {("resnet14", 10), ("resnet14-noshort", 3)}
