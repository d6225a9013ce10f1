"""Security: no code-executing loaders in the packages, and names that come from data (trial folder names,
config.json's trial_id, --trial) cannot make the analysis, the dashboard or the landscape write outside
the experiment folder.

The CIFAR-10 reader's restricted unpickler is tested on a malicious pickle in
tests/workers/test_data.py::test_cifar_unpickler_refuses_code; here only that it is the one unpickler.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from analysis.synthetic import write_contract_trial

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("orchestrator", "workers", "analysis")
SOURCES = sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def _name(node: ast.AST) -> str:
    """'yaml.load' for yaml.load, 'eval' for eval; '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _keyword(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value.value if isinstance(k.value, ast.Constant) else "<expression>"
    return None


def unsafe_calls(source: str) -> list[str]:
    """The calls in this source that can run code from data, as 'line: call'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        bad = (
            name in ("eval", "exec", "compile", "__import__", "os.system", "os.popen", "marshal.load",
                     "marshal.loads", "shelve.open", "pickle.load", "pickle.loads", "dill.load", "dill.loads",
                     "yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load", "yaml.full_load_all")
            or (name == "torch.load" and _keyword(node, "weights_only") is not True)
            or (name in ("np.load", "numpy.load") and _keyword(node, "allow_pickle") not in (None, False))
            or (name.startswith("subprocess.") and _keyword(node, "shell") not in (None, False))
        )
        if bad:
            found.append(f"{node.lineno}: {ast.unparse(node)[:80]}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[p.relative_to(REPO).as_posix() for p in SOURCES])
def test_no_code_executing_loaders(path):
    assert unsafe_calls(path.read_text()) == []


def test_the_scanner_finds_what_it_looks_for():
    bad = ["eval('1')", "exec(code)", "pickle.load(f)", "pickle.loads(b)", "yaml.load(text)",
           "yaml.load(text, Loader=yaml.Loader)", "yaml.unsafe_load(t)", "torch.load(p)",
           "torch.load(p, weights_only=False)", "np.load(p, allow_pickle=True)", "subprocess.run(c, shell=True)"]
    good = ["yaml.safe_load(text)", "torch.load(p, map_location='cpu', weights_only=True)", "model.eval()",
            "np.load(p)", "subprocess.run(['git', 'rev-parse', 'HEAD'])", "CifarUnpickler(f).load()"]
    assert [len(unsafe_calls(c)) for c in bad] == [1] * len(bad)
    assert [unsafe_calls(c) for c in good] == [[]] * len(good)


def test_the_only_unpickler_is_the_restricted_cifar_one():
    subclasses = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(_name(b) == "pickle.Unpickler" for b in node.bases):
                subclasses.append((path.name, node.name, {f.name for f in node.body if isinstance(f, ast.FunctionDef)}))
            if isinstance(node, ast.Call) and _name(node.func) == "pickle.Unpickler":
                subclasses.append((path.name, "pickle.Unpickler", set()))  # unrestricted: not allowed
    assert subclasses == [("datafiles.py", "CifarUnpickler", {"find_class"})]


# -- names from data stay inside the experiment folder ---------------------------------------------------

EVIL_IDS = ["../../../../evil", "/tmp/evil-absolute", "..", "x/../../y", "<script>alert(1)</script>", ""]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def hostile_experiment(tmp_path_factory):
    """exp/trials/ with trials whose config.json trial_id tries to climb out, and a folder named `..foo`;
    analysed once (in-process, no Ray) with the dashboard."""
    import analysis.distributed
    from analysis.report import report

    root = tmp_path_factory.mktemp("sec") / "a" / "b"
    exp = root / "exp"
    names = [f"t{i}" for i in range(len(EVIL_IDS))] + ["..foo"]
    for name, trial_id in zip(names, [*EVIL_IDS, "..foo"]):
        trial = exp / "trials" / name
        write_contract_trial(trial / "trajectory", [0.5, 0.5], 1.5, window=32, dim=8, grad_sample=8, shard_steps=32)
        (trial / "config.json").write_text(json.dumps({"trial_id": trial_id, "config": {"arch": "resnet14"}}))
        (trial / "status.json").write_text(json.dumps({"state": "completed", "steps": 64}))
    outside = _files(root.parent.parent)
    serial = lambda fn, calls, **_: [fn(*a) for a in calls]
    original, analysis.distributed.run_tasks = analysis.distributed.run_tasks, serial
    try:
        result = report(exp, window=32, levy_samples=200)
    finally:
        analysis.distributed.run_tasks = original
    return exp, root.parent.parent, outside, result


def test_analysis_and_dashboard_write_only_inside_the_experiment(hostile_experiment):
    exp, top, before, result = hostile_experiment
    new = _files(top) - before
    assert new and all(p.resolve().is_relative_to(exp.resolve()) for p in new), sorted(map(str, new))
    assert all(p.relative_to(exp).parts[0] in ("analysis", "dashboard") for p in new)
    assert not (Path("/tmp/evil-absolute")).exists() and not (top / "a" / "evil").exists()
    assert result.ok == len(EVIL_IDS)  # every hostile id is still analysed, under its folder's name


def test_parts_are_written_under_the_trial_folder_name(hostile_experiment):
    exp, *_ = hostile_experiment
    parts = exp / "analysis" / "parts"
    assert sorted(p.name for p in parts.iterdir()) == [f"t{i}" for i in range(len(EVIL_IDS))]  # ..foo: hidden, skipped
    assert all(p.parent.parent == parts for p in parts.rglob("*") if p.is_file())


def test_dashboard_pages_are_plain_files_in_dashboard_trials(hostile_experiment):
    exp, *_ = hostile_experiment
    pages = [p for p in _files(exp / "dashboard") if p.suffix == ".html"]
    trial_pages = [p for p in pages if p.parent == exp / "dashboard" / "trials"]
    assert len(trial_pages) == len(EVIL_IDS)
    assert all(p.parent in (exp / "dashboard", exp / "dashboard" / "trials") for p in pages)
    assert all(not p.name.startswith(".") and "/" not in p.stem and "<" not in p.name for p in trial_pages)


@pytest.mark.parametrize("trial", ["../x", "../../etc", ".hidden", "a/../../b", "/abs/path"])
def test_landscape_refuses_trial_ids_that_leave_the_experiment(tmp_path, capsys, trial):
    from orchestrator.landscape import main

    (tmp_path / "exp" / "trials").mkdir(parents=True)
    (tmp_path / "x" / "checkpoint").mkdir(parents=True)
    (tmp_path / "x" / "checkpoint" / "state.pt").write_bytes(b"")  # a target that exists outside
    before = _files(tmp_path)
    assert main(["--experiment", str(tmp_path / "exp"), "--trial", trial]) == 2
    assert "is not a trial id" in capsys.readouterr().err and _files(tmp_path) == before
