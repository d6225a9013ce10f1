"""Analyse an experiment into the DESIGN.md tables and the dashboard; one Ray task per trial.

    python -m analysis.report --experiment PATH|URI [--window T] [--t-w 0,5000] [--force] [--address auto]

Each task streams its trial's shards window by window from storage (local or an object store) and writes
its own table parts; the driver merges the parts into `analysis/<table>.parquet`, the comparison tables
and `dashboard/`. A trial already analysed with the same settings from unchanged inputs is skipped
unless --force. A trial that cannot be analysed (no shards, a corrupt or truncated shard, a gap) gets
its reason in the summary's `analysis_status`; the command fails only when no trial could be analysed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from analysis.compare import comparison_tables
from analysis.tables import manifest, merge_parts, up_to_date, write_parts
from analysis.trial import analyse_trial
from workers.storage import Folder, is_uri

TRIAL_FILES = ("config.json", "status.json", "epochs.parquet", "hessian.parquet", "landscape.parquet")


@dataclass
class Report:
    """What one analysis run did: trial ids analysed now, found up to date, and the summary rows."""
    location: str
    analysed: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    dashboard: str = ""

    @property
    def ok(self) -> int:
        return sum(r.get("analysis_status") == "ok" for r in self.summary)


def analyse_and_store(location: str, trial_id: str, settings: dict) -> dict:
    """The body of one task: analyse a trial, write its parts, return its summary row."""
    experiment = Folder(location)
    trial = experiment / f"trials/{trial_id}"
    done = manifest(trial, settings)  # taken before reading: a shard added meanwhile triggers a re-run
    out = analyse_trial(trial, **settings)
    write_parts(experiment, trial_id, out, done)
    return out["summary"][0]


def trial_ids(experiment: Folder) -> list[str]:
    return [n for n in experiment.listdir("trials") if not n.startswith(".")]


def report(location: str | Path, *, window: int, t_w: list[int] | None = None, force: bool = False,
           address: str | None = None, levy_samples: int = 5000, dashboard: bool = True) -> Report:
    """Analyse what is new or changed, merge every table, write the comparison tables and the dashboard."""
    from analysis.distributed import run_tasks

    experiment = Folder(location)
    settings = {"window": window, "t_w": t_w, "levy_samples": levy_samples, "seed": 0}
    ids = trial_ids(experiment)
    result = Report(experiment.location)
    todo = [i for i in ids if force or not up_to_date(experiment, i, settings)]
    result.up_to_date = [i for i in ids if i not in todo]
    result.analysed = todo
    run_tasks(analyse_and_store, [(experiment.location, i, settings) for i in todo], address=address)
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        local = experiment.location if not is_uri(experiment.location) else tmp
        write_tables(experiment, ids, Path(local))
        if dashboard:
            result.dashboard = _dashboard(experiment, ids, Path(local))
        if is_uri(experiment.location):
            _upload(Path(tmp), experiment)
        result.summary = pq.read_table(Path(local) / "analysis" / "summary.parquet").to_pylist()
    return result


def write_tables(experiment: Folder, ids: list[str], local: Path) -> Path:
    """Merge the parts into local/analysis/*.parquet, summary.csv and the compare_* tables."""
    import polars as pl

    folder = local / "analysis"
    merge_parts(experiment, ids, folder)
    summary = pl.read_parquet(folder / "summary.parquet")
    summary.write_csv(folder / "summary.csv")
    for name, table in comparison_tables(summary).items():
        table.write_parquet(folder / f"{name}.parquet")
        table.write_csv(folder / f"{name}.csv")
    return folder


def _dashboard(experiment: Folder, ids: list[str], local: Path) -> str:
    from analysis.dashboard import build_dashboard

    if is_uri(experiment.location):  # the dashboard reads a local mirror of the trials' small files
        for i in ids:
            for name in TRIAL_FILES:
                experiment.get(f"trials/{i}/{name}", local / "trials" / i / name)
    index = build_dashboard(local)
    return f"{experiment.location}/{index.relative_to(local).as_posix()}"


def _upload(local: Path, experiment: Folder) -> None:
    for sub in ("analysis", "dashboard"):
        for path in sorted((local / sub).rglob("*")):
            if path.is_file():
                experiment.put(path, path.relative_to(local).as_posix())


def print_comparison(experiment: Folder | str | Path, name: str = "compare_depth_shortcut_batch") -> None:
    """Print one comparison table (default: the paper's Fig. 3 question) readably."""
    import polars as pl

    experiment = experiment if isinstance(experiment, Folder) else Folder(experiment)
    data = experiment.read_bytes(f"analysis/{name}.parquet")
    table = pl.read_parquet(data) if data else pl.DataFrame()
    if table.is_empty():
        return
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=200, float_precision=3, tbl_hide_dataframe_shape=True):
        print(f"{name} (mean and std over seeds; all comparison tables in {experiment.location}/analysis):")
        print(table.drop([c for c in table.columns if c.endswith("_std") and table[c].null_count() == table.height]))


def parse_t_w(text: str | None) -> list[int] | None:
    """'0,5000,10000' -> [0, 5000, 10000]; raises ValueError naming the bad entry."""
    if text is None:
        return None
    values = []
    for item in text.split(","):
        item = item.strip()
        if not (item.isascii() and item.isdigit()):  # str.isdigit alone admits '²', which int() refuses
            raise ValueError(f"--t-w: {item!r} is not a step >= 0; give a comma-separated list "
                             f"such as 0,5000,10000")
        values.append(int(item))
    return sorted(set(values))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n")[0])
    p.add_argument("--experiment", required=True, help="experiment folder or URI (holds trials/)")
    p.add_argument("--window", type=int, default=1000, help="window length T in steps (DESIGN.md default 1000)")
    p.add_argument("--t-w", help="window starts, comma-separated (default 0, T, 2T, ...)")
    p.add_argument("--force", action="store_true", help="re-analyse trials that are up to date")
    p.add_argument("--address", help="Ray cluster to use (default: a local one)")
    p.add_argument("--no-dashboard", action="store_true", help="write the tables only")
    a = p.parse_args(argv)
    try:
        t_w = parse_t_w(a.t_w)
        experiment = Folder(a.experiment)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not experiment.exists("trials"):
        print(f"error: --experiment: {experiment.location}/trials does not exist; pass an experiment folder",
              file=sys.stderr)
        return 2
    if a.window < 4:
        print(f"error: --window: {a.window} must be >= 4 steps", file=sys.stderr)
        return 2
    result = report(experiment.location, window=a.window, t_w=t_w, force=a.force, address=a.address,
                    dashboard=not a.no_dashboard)
    print_comparison(experiment)
    print(f"analysed {len(result.analysed)} trials, {len(result.up_to_date)} up to date (--force redoes them); "
          f"{result.ok}/{len(result.summary)} ok -> {experiment.location}/analysis")
    for row in result.summary:
        if row.get("analysis_status") != "ok":
            print(f"  {row['trial_id']}: {row.get('analysis_status')}")
    if result.dashboard:
        print(f"dashboard: {result.dashboard}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
