"""Bad input, tried systematically: one table of bad inputs, each with the entry point it goes through and
the exact error text it must produce (docs/troubleshooting.md is the same table for humans).

CLI entry points must exit with code 2 (analysis.report: 1 when no trial could be analysed, as documented)
and print one `error: ...` line on stderr; every case checks that the temporary folder holding the bad
input is byte-for-byte unchanged afterwards (nothing written), except the documented analysis report.
Several cases repeat tests elsewhere (tests/orchestrator/test_grid_cli.py, test_spec.py,
tests/workers/test_shards.py, test_data.py, tests/analysis/test_report.py) so that they are in one place.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from analysis.synthetic import shard_columns, write_contract_trial
from analysis.trial import analyse_trial
from workers.shards import read_shard, read_trajectory, write_shard

BASE = {"name": "bad", "axes": {"arch": ["resnet14"], "dataset": ["digits"], "loss": ["ce"], "batch_size": [64],
                                "lr": [0.1], "seed": [0]}, "fixed": {"steps": 10}}
META = {"schema_version": "1", "trial_id": "t", "num_params": 10, "sketch_kind": "countsketch",
        "sketch_dim": 4, "sketch_seed": 0, "grad_sample_seed": 0}


@dataclass
class Ctx:
    """What a case's `make` gets: a fresh folder to build the bad input in, and the shared data root."""
    tmp: Path
    request: pytest.FixtureRequest

    def data_root(self) -> Path:
        return self.request.getfixturevalue("data_root")  # skips the case where ../shared/data is absent


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Ctx], object]  # builds the bad input under ctx.tmp; returns what `entry` takes
    entry: str                     # the entry point, a key of ENTRIES
    expected: str                  # exact fragment of the error text; {tmp} stands for ctx.tmp


# -- how bad inputs are made ----------------------------------------------------------------------------

def grid_text(text: str, *extra: str):
    """A grid YAML file with this text, run as `python -m orchestrator.grid --grid FILE`."""
    def make(ctx: Ctx):
        (ctx.tmp / "grid.yaml").write_text(text)
        return ["--grid", str(ctx.tmp / "grid.yaml"), *extra]
    return make


def grid(**changes):
    """BASE with sections replaced (a dict updates the section; anything else replaces it)."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    for section, value in changes.items():
        raw[section] = {**raw.get(section, {}), **value} if isinstance(value, dict) and section in raw else value
    return grid_text(yaml.safe_dump(raw, sort_keys=False))


def argv(*args: str):
    """Command-line arguments; `{tmp}` in an argument is the case's folder."""
    return lambda ctx: [a.replace("{tmp}", str(ctx.tmp)) for a in args]


def different_grid_in_experiment(ctx: Ctx):
    (ctx.tmp / "runs" / "smoke").mkdir(parents=True)
    (ctx.tmp / "runs" / "smoke" / "grid.yaml").write_text("name: smoke\naxes: {arch: [resnet20]}\n")
    return ["--grid", "smoke"]


def mnist_files(names: dict[str, bytes]):
    """A data root whose MNIST/raw holds these files (name -> content); trained through workers.train."""
    def make(ctx: Ctx):
        raw = ctx.tmp / "root" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name, data in names.items():
            (raw / name).write_bytes(data)
        return _train_args(ctx, "mnist")
    return make


def mnist_truncated(ctx: Ctx):
    """The official MNIST files copied from the shared data root, one of them truncated."""
    raw = ctx.tmp / "root" / "MNIST" / "raw"
    shutil.copytree(ctx.data_root() / "MNIST" / "raw", raw)
    path = raw / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    return _train_args(ctx, "mnist")


def cifar_garbage(ctx: Ctx):
    folder = ctx.tmp / "root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "test_batch"):
        (folder / name).write_text("not a pickle\n")
    return _train_args(ctx, "cifar10")


def _train_args(ctx: Ctx, dataset: str) -> list[str]:
    return ["--out", str(ctx.tmp / "out"), "--dataset", dataset, "--data-root", str(ctx.tmp / "root"),
            "--steps", "2", "--device", "cpu"]


def shard(change: Callable[[Path], Path] = lambda p: p, meta: dict | None = None):
    """A valid 4-row shard at step 0 in ctx.tmp, then `change(path)` (returns the path to read)."""
    def make(ctx: Ctx):
        return change(write_shard(ctx.tmp, shard_columns(0, 4), {**META, **(meta or {})}))
    return make


def rewrite(edit: Callable[[pa.Table], pa.Table]):
    """Rewrite a shard's table with plain pyarrow (keeping its metadata)."""
    def change(path: Path) -> Path:
        table = pq.read_table(path)
        pq.write_table(edit(table).replace_schema_metadata(table.schema.metadata), path)
        return path
    return change


def truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def rename_to(name: str):
    return lambda path: path.rename(path.with_name(name))


def bad_utf8_column_name(path: Path) -> Path:
    """hypothesis found it: one flipped bit in the footer makes a column name invalid UTF-8."""
    path.write_bytes(path.read_bytes().replace(b"grad_sample", b"\xe7rad_sample"))
    return path


def shards(*firsts_and_lengths: tuple[int, int]):
    """A trajectory folder with these (first step, rows) shards."""
    def make(ctx: Ctx):
        for first, n in firsts_and_lengths:
            write_shard(ctx.tmp, shard_columns(first, n), META)
        return ctx.tmp
    return make


def contract_trial(damage: Callable[[Path], object] = lambda folder: None, *, window: int = 32,
                   kept: int | None = None):
    """A synthetic trial of three 32-step windows (shards of 32 rows), then `damage(trajectory folder)`;
    analysed with `window`, `kept` windows must survive before the reported failure."""
    def make(ctx: Ctx):
        trajectory = ctx.tmp / "exp" / "trials" / "t" / "trajectory"
        write_contract_trial(trajectory, [0.5, 0.5, 0.5], 1.5, window=32, dim=8, grad_sample=8, shard_steps=32)
        damage(trajectory)
        return trajectory.parent, window, kept
    return make


def nan_loss_at_step_70(trajectory: Path) -> None:
    path = trajectory / "part-000000064.parquet"
    table = pq.read_table(path)
    loss = table.column("loss").to_numpy().copy()
    loss[70 - 64] = np.nan
    i = table.schema.get_field_index("loss")
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(loss)), path)


def drop_sketch_of_last_shard(trajectory: Path) -> None:
    path = trajectory / "part-000000064.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop(["sketch"]).replace_schema_metadata(table.schema.metadata), path)


def truncate_last_shard(trajectory: Path) -> None:
    truncate(trajectory / "part-000000064.parquet")


def remove_shards(trajectory: Path) -> None:
    shutil.rmtree(trajectory)


def experiment(damage: Callable[[Path], object], *args: str):
    """An experiment folder holding one damaged synthetic trial, run through `python -m analysis.report`."""
    def make(ctx: Ctx):
        trial, _, _ = contract_trial(damage)(ctx)
        return ["--experiment", str(trial.parent.parent), "--window", "32", "--no-dashboard", *args]
    return make


def hand_edited_experiment(ctx: Ctx):
    """Two trials; the second's config.json and status.json hold values of the wrong types (the merge of
    the summary crashed on them before)."""
    exp = ctx.tmp / "exp"
    for name, config, status in [
            ("a", {"trial_id": "a", "config": {"arch": "resnet14", "lr": 0.1}}, {"state": "completed", "steps": 64}),
            ("b", {"trial_id": 5, "config": {"arch": 14, "lr": "fast"}}, {"state": 3, "steps": "many"})]:
        write_contract_trial(exp / "trials" / name / "trajectory", [0.5, 0.5], 1.5, window=32, dim=8,
                             grad_sample=8, shard_steps=32)
        (exp / "trials" / name / "config.json").write_text(json.dumps(config))
        (exp / "trials" / name / "status.json").write_text(json.dumps(status))
    return ["--experiment", str(exp), "--window", "32", "--no-dashboard"]


def status_not_an_object(ctx: Ctx):
    trial = ctx.tmp / "runs" / "smoke" / "trials" / "resnet14_digits_kl_bs64_lr0.1_seed0"
    trial.mkdir(parents=True)
    (trial / "status.json").write_text("[1]")
    return ["--grid", "smoke", "--dry-run"]


def truncate_first_shard(trajectory: Path) -> None:
    truncate(trajectory / "part-000000000.parquet")


def landscape_experiment(*args: str):
    def make(ctx: Ctx):
        (ctx.tmp / "exp" / "trials" / "t").mkdir(parents=True)
        return ["--experiment", str(ctx.tmp / "exp"), *args]
    return make


# -- the table ------------------------------------------------------------------------------------------

CASES = [
    # grid files and presets: python -m orchestrator.grid, exit 2, nothing written
    Case("malformed YAML", grid_text("axes: [unclosed\n"), "grid", "grid.yaml is not readable YAML"),
    Case("YAML top level not a mapping", grid_text("- resnet14\n- resnet20\n"), "grid",
         "grid: the YAML top level is list; expected a mapping"),
    Case("unknown section", grid(extra=1), "grid", "grid: unknown section(s) ['extra']; allowed:"),
    Case("section keys of mixed types (hypothesis)", grid_text("'': 1\n0: 2\n"), "grid",
         "grid: unknown section(s) ['', 0]"),
    Case("YAML nested too deep", grid_text("[" * 5000), "grid",
         "grid.yaml is not readable YAML (maximum recursion depth exceeded"),
    Case("unknown axis", grid(axes={"colour": ["red"]}), "grid", "axes: unknown field(s) ['colour']"),
    Case("unknown fixed field", grid(fixed={"epochz": 3}), "grid", "fixed: unknown field(s) ['epochz']"),
    Case("fixed not a mapping", grid(fixed=[1, 2]), "grid", "fixed: [1, 2] is not a mapping of TrialConfig fields"),
    Case("negative lr", grid(axes={"lr": [0.1, -0.5]}), "grid", "lr: -0.5 must be a finite number > 0"),
    Case("lr as a string", grid(axes={"lr": ["fast"]}), "grid", "lr: 'fast' is a str; expected float"),
    Case("batch_size 0", grid(axes={"batch_size": [0]}), "grid", "batch_size: 0 must be a finite number > 0"),
    Case("an integer beyond 64 bits", grid(axes={"lr": [10**400]}), "grid",
         "lr: an integer of 1329 bits is out of range; use a value that fits in 64 bits"),
    Case("data_root with a NUL byte", grid(fixed={"data_root": "a\x00b"}), "grid",
         "data_root: 'a\\x00b' is not a usable path (embedded null byte)"),
    Case("steps and epochs both 0", grid(fixed={"epochs": 0, "steps": 0}), "grid",
         "epochs/steps: both are 0; set epochs > 0 or steps > 0"),
    Case("unknown arch", grid(axes={"arch": ["resnet15"]}), "grid",
         "arch: 'resnet15' is not allowed; use one of resnet14, resnet20"),
    Case("unknown dataset", grid(axes={"dataset": ["imagenet"]}), "grid",
         "dataset: 'imagenet' is not allowed; use one of digits, mnist, cifar10"),
    Case("unknown loss", grid(axes={"loss": ["mse"]}), "grid", "loss: 'mse' is not allowed; use one of ce, kl"),
    Case("empty axis list", grid(axes={"lr": []}), "grid", "axes.lr: empty list; the grid would have no trials"),
    Case("nested list in an axis (hypothesis)", grid(axes={"arch": [["resnet14"]], "shortcut": [True]}), "grid",
         "axes.arch: ['resnet14'] is not a single value"),
    Case("arch a number with a shortcut axis (hypothesis)", grid(axes={"arch": [14], "shortcut": [True]}), "grid",
         "arch: 14 is a int; expected str"),
    Case("shortcut not a boolean", grid(axes={"shortcut": ["no"]}), "grid",
         "axes.shortcut: 'no' is not allowed; use true or false"),
    Case("overrides not a list", grid(overrides=5), "grid", "overrides: expected a list of {match: {axis: values}"),
    Case("override fixed not a mapping", grid(overrides=[{"match": {"seed": 0}, "fixed": 5}]), "grid",
         "overrides[0].fixed: 5 is not a mapping of TrialConfig fields"),
    Case("exclusions remove every trial", grid(exclude=[{"arch": "resnet14"}]), "grid",
         "grid: no trials left after overrides and exclusions"),
    Case("window < 4", grid(analysis={"window": 3}), "grid",
         "analysis.window: 3 must be an integer number of steps >= 4"),
    Case("window not a number", grid(analysis={"window": "long"}), "grid",
         "analysis.window: 'long' must be an integer"),
    Case("landscape n < 2", grid(landscape={"n": 1}), "grid", "landscape.n: 1 must be an integer >= 2"),
    Case("landscape span <= 0", grid(landscape={"span": -1}), "grid", "landscape.span: -1 must be a finite number > 0"),
    Case("landscape at unknown", grid(landscape={"at": "middle"}), "grid",
         "landscape.at: 'middle' is not allowed; use one of final, init"),
    Case("landscape unknown field", grid(landscape={"size": 5}), "grid", "landscape: unknown field(s) ['size']"),
    Case("landscape match on a non-axis", grid(landscape={"match": {"steps": 10}}), "grid",
         "landscape.match: unknown field(s) ['steps']"),
    Case("unknown preset", argv("--grid", "nope"), "grid",
         "--grid: 'nope' is neither a preset (demo, paper, smoke) nor a YAML file"),
    Case("--set without =", argv("--grid", "smoke", "--set", "steps"), "grid", "--set: 'steps' is not key=value"),
    Case("--set a value that is not YAML (hypothesis)", argv("--grid", "smoke", "--set", "lr=[unclosed"), "grid",
         "--set: 'lr=[unclosed': the value is not readable YAML"),
    Case("--set a bad value", argv("--grid", "smoke", "--set", "lr=-1"), "grid",
         "lr: -1.0 must be a finite number > 0"),
    Case("experiment folder from a different grid", different_grid_in_experiment, "grid",
         "was made by a different grid; use another --name or --resume"),
    Case("--resume without a stored grid", argv("--grid", "smoke", "--resume"), "grid",
         "--resume: {tmp}/runs/smoke/grid.yaml does not exist"),
    # data roots: checked for existence before launch (python -m orchestrator.grid), read by the trial
    Case("data root missing", argv("--grid", "smoke", "--set", "dataset=mnist", "--set", "data_root={tmp}/nowhere"),
         "grid", "data_root: MNIST: missing {tmp}/nowhere/MNIST/raw/train-images-idx3-ubyte.gz"),
    Case("data root holds wrongly named files", argv("--grid", "smoke", "--set", "dataset=cifar10",
                                                     "--set", "data_root={tmp}"), "grid",
         "data_root: CIFAR-10: missing {tmp}/cifar-10-batches-py/data_batch_1"),
    Case("MNIST md5 mismatch (truncated copy)", mnist_truncated, "train",
         "train-images-idx3-ubyte.gz has md5 "),
    Case("MNIST file that is not an idx file", mnist_files({"train-images-idx3-ubyte": b"hello world\n"}), "train",
         "train-images-idx3-ubyte is not an idx file (magic 1751477356); replace it with the official file"),
    Case("CIFAR-10 batch that is not a pickle", cifar_garbage, "train",
         "data_batch_1: invalid load key, 'n'.; replace it with an official batch file"),
    # trajectory shards: workers.shards.read_shard / read_trajectory raise ValueError naming the file
    Case("shard with a wrong schema (column missing)", shard(rewrite(lambda t: t.drop(["sketch"]))), "read_shard",
         "column 'sketch' is missing; not a trajectory shard of contract v1"),
    Case("shard with a wrong schema (column type)", shard(rewrite(lambda t: t.set_column(
        0, "step", pa.array(t.column("step").to_numpy().astype(np.float64))))), "read_shard",
         "column 'step' is double, expected int64"),
    Case("shard without a step column (hypothesis)", shard(rewrite(lambda t: t.drop(["step"]))), "read_shard",
         "column 'step' is missing"),
    Case("shard with a newer schema_version", shard(meta={"schema_version": "2"}), "read_shard",
         "schema_version '2'; this reader understands '1': upgrade the package to read newer shards"),
    Case("truncated Parquet file", shard(truncate), "read_shard", "; the file is truncated or corrupt"),
    Case("non-UTF-8 column name (hypothesis)", shard(bad_utf8_column_name), "read_shard",
         "unreadable shard ('utf-8' codec can't decode byte 0xe7"),
    Case("shard steps do not match its file name", shard(rename_to("part-000000010.parquet")), "read_shard",
         "steps are not contiguous from 10; the shard is corrupt"),
    Case("file name is not a shard name", shard(rename_to("part-10.parquet")), "read_shard",
         "not a shard name; expected part-<9-digit first step>.parquet"),
    Case("a shard missing between two others", shards((0, 4), (6, 4)), "read_trajectory",
         "part-000000006.parquet: starts at step 6, expected 4: a shard is missing"),
    Case("trajectory that does not start at step 0", shards((10, 4)), "read_trajectory",
         "the first shard starts at step 10, not 0: shards are missing"),
    Case("no shards at all", shards(), "read_trajectory", "no trajectory shards (part-*.parquet)"),
    # analysis of one trial: never raises; the reason goes to summary.analysis_status, earlier windows kept
    Case("NaN in a trajectory", contract_trial(nan_loss_at_step_70, kept=2), "analyse_trial",
         "stopped: window t_w=64 holds non-finite values (a diverged trial)"),
    Case("truncated shard inside a trial", contract_trial(truncate_last_shard, kept=2), "analyse_trial",
         "part-000000064.parquet: unreadable shard"),
    Case("wrong schema inside a trial", contract_trial(drop_sketch_of_last_shard, kept=2), "analyse_trial",
         "column 'sketch' is missing"),
    Case("trial without shards", contract_trial(remove_shards, kept=0), "analyse_trial",
         "no trajectory shards (trajectory/part-*.parquet)"),
    Case("window longer than the trial", contract_trial(window=500, kept=0), "analyse_trial",
         "no complete window of 500 steps"),
    # python -m analysis.report: exit 2 before anything is read; exit 1 when no trial could be analysed
    Case("--t-w garbage", argv("--experiment", "{tmp}", "--t-w", "0,abc"), "report",
         "--t-w: 'abc' is not a step >= 0; give a comma-separated list such as 0,5000,10000"),
    Case("--t-w negative", argv("--experiment", "{tmp}", "--t-w", "-5"), "report", "--t-w: '-5' is not a step >= 0"),
    Case("--t-w with a superscript digit (hypothesis)", argv("--experiment", "{tmp}", "--t-w", "\u00b2"), "report",
         "--t-w: '\u00b2' is not a step >= 0"),
    Case("--window < 4", experiment(lambda t: None, "--window", "3"), "report", "--window: 3 must be >= 4 steps"),
    Case("--experiment without trials/", argv("--experiment", "{tmp}/nothing"), "report",
         "--experiment: {tmp}/nothing/trials does not exist; pass an experiment folder"),
    Case("no trial can be analysed", experiment(truncate_first_shard), "report_fails",
         "t: stopped: {tmp}/exp/trials/t/trajectory/part-000000000.parquet: unreadable shard"),
    Case("config.json/status.json with wrong types", hand_edited_experiment, "report_ok", "2/2 ok"),
    Case("config.json['config'] not an object", contract_trial(
        lambda t: (t.parent / "config.json").write_text('{"config": "resnet14"}'), kept=3), "analyse_trial", "ok"),
    Case("status.json not an object", status_not_an_object, "grid_dry_run",
         "resnet14_digits_kl_bs64_lr0.1_seed0           pending"),
    # python -m orchestrator.landscape: exit 2, nothing computed
    Case("landscape --n 1", landscape_experiment("--trial", "t", "--n", "1"), "landscape",
         "landscape.n: 1 must be an integer >= 2"),
    Case("landscape --span -1", landscape_experiment("--trial", "t", "--span", "-1"), "landscape",
         "landscape.span: -1.0 must be a finite number > 0"),
    Case("landscape --at middle", landscape_experiment("--trial", "t", "--at", "middle"), "landscape",
         "landscape.at: 'middle' is not allowed"),
    Case("landscape --trial outside the experiment", landscape_experiment("--trial", "../x"), "landscape",
         "--trial: '../x' is not a trial id (a folder name under trials/)"),
    Case("landscape --trial not trained", landscape_experiment("--trial", "t"), "landscape",
         "--trial: {tmp}/exp/trials/t/checkpoint/state.pt does not exist"),
]


# -- the entry points -----------------------------------------------------------------------------------

def _cli(main, args, capsys, code: int = 2) -> str:
    rc = main(list(args))
    out = capsys.readouterr()
    assert rc == code, (rc, out.out, out.err)
    if code == 2:
        assert out.err.startswith("error: ") and out.err.count("\n") == 1, out.err
        return out.err
    return out.out


def run_grid(ctx, args, capsys, monkeypatch):
    from orchestrator.grid import main
    return _cli(main, [*args, "--storage", str(ctx.tmp / "runs")], capsys)


def run_train(ctx, args, capsys, monkeypatch):
    from workers.train import main
    return _cli(main, args, capsys)


def run_report(ctx, args, capsys, monkeypatch):
    from analysis.report import main
    return _cli(main, args, capsys)


def run_report_fails(ctx, args, capsys, monkeypatch):
    from analysis.report import main
    monkeypatch.setattr("analysis.distributed.run_tasks", lambda fn, calls, **_: [fn(*a) for a in calls])  # no Ray
    return _cli(main, args, capsys, code=1)


def run_report_ok(ctx, args, capsys, monkeypatch):
    from analysis.report import main
    monkeypatch.setattr("analysis.distributed.run_tasks", lambda fn, calls, **_: [fn(*a) for a in calls])
    return _cli(main, args, capsys, code=0)


def run_grid_dry_run(ctx, args, capsys, monkeypatch):
    from orchestrator.grid import main
    return _cli(main, [*args, "--storage", str(ctx.tmp / "runs")], capsys, code=0)


def run_landscape(ctx, args, capsys, monkeypatch):
    from orchestrator.landscape import main
    return _cli(main, args, capsys)


def run_read_shard(ctx, path, capsys, monkeypatch):
    with pytest.raises(ValueError) as err:
        read_shard(path)
    assert str(err.value).startswith(f"{path}: ")
    return str(err.value)


def run_read_trajectory(ctx, folder, capsys, monkeypatch):
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        read_trajectory(folder)
    return str(err.value)


def run_analyse_trial(ctx, made, capsys, monkeypatch):
    trial, window, kept = made
    out = analyse_trial(trial, window=window, levy_samples=500)
    summary = out["summary"][0]
    assert summary["windows"] == len(out["exponents"]) == kept
    assert [r["t_w"] for r in out["exponents"]] == [window * i for i in range(kept)]
    return summary["analysis_status"]


ENTRIES = {"grid": run_grid, "grid_dry_run": run_grid_dry_run, "train": run_train, "report": run_report,
           "report_fails": run_report_fails, "report_ok": run_report_ok, "landscape": run_landscape,
           "read_shard": run_read_shard, "read_trajectory": run_read_trajectory, "analyse_trial": run_analyse_trial}
WRITES = {"report_fails", "report_ok"}  # the analysis writes its summary, also when every trial failed


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (p.is_dir(), p.stat().st_mtime_ns,
                                             hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def test_the_table_names_every_entry_point_and_no_case_twice():
    assert {c.entry for c in CASES} == set(ENTRIES)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path, request, capsys, monkeypatch):
    ctx = Ctx(tmp_path / "case", request)
    ctx.tmp.mkdir()
    made = case.make(ctx)
    before = snapshot(ctx.tmp)
    message = ENTRIES[case.entry](ctx, made, capsys, monkeypatch)
    expected = case.expected.replace("{tmp}", str(ctx.tmp))
    assert expected in message, f"expected {expected!r} in {message!r}"
    assert "Traceback" not in message
    if case.entry not in WRITES:
        assert snapshot(ctx.tmp) == before, "the bad input changed the folder"


def test_experiment_names_cannot_leave_the_storage_folder(tmp_path, capsys):
    from orchestrator.grid import main as grid_main

    for name in ("../outside", "a/b", ".hidden", "x/../../y"):
        assert grid_main(["--grid", "smoke", "--storage", str(tmp_path / "runs"), "--name", name, "--dry-run"]) == 2
        assert "is not a plain folder name" in capsys.readouterr().err
    assert not (tmp_path / "outside").exists()


def test_a_malformed_lock_file_counts_as_stale(tmp_path):
    from orchestrator.lock import driver_lock

    for content in ("[1, 2]", '{"host": "h", "pid": "x"}', "not json"):
        (tmp_path / ".driver.lock").write_text(content)
        with driver_lock(tmp_path):
            pass
        assert not (tmp_path / ".driver.lock").exists()


def test_a_corrupt_config_json_in_a_trial_folder_is_a_clear_error(tmp_path):
    from workers.config import TrialConfig
    from workers.train import run_trial

    (tmp_path / "config.json").write_text('{"trial_id": "x"}')
    cfg = TrialConfig(dataset="digits", steps=2, shard_steps=2, sketch_dim=8, grad_sample=4, device="cpu",
                      eval_every=0)
    with pytest.raises(ValueError, match="config.json: unreadable"):
        run_trial(cfg, tmp_path)
