"""The analysis tables on storage: per-trial parts, their manifests, and the merged experiment tables.

Each trial's task writes `analysis/parts/<trial_id>/<table>.parquet` and, last, `manifest.json` with
the analysis settings and a fingerprint of the trial's inputs (shard names, sizes and modification
times; config.json, status.json, and the Hessian and landscape probes). A trial whose manifest matches
is up to date and is not analysed again. The driver then streams the parts of the current trials into
`analysis/<table>.parquet`, one part at a time, so it never holds more than one trial's rows of one table.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from analysis.trial import TABLES
from workers.shards import SHARD_RE
from workers.storage import Folder

ANALYSIS_VERSION = 1  # bump when the analysis changes what it computes: every trial is recomputed
PARTS = "analysis/parts"
INPUTS = ("config.json", "status.json", "hessian.parquet", "landscape.parquet")  # besides the shards


def fingerprint(trial: Folder) -> list:
    """What the analysis of a trial depends on: [name, size, mtime_ns] of its shards and JSON files."""
    infos = trial.fs.get_file_info(pafs.FileSelector(trial._path("trajectory"), allow_not_found=True))
    infos += trial.fs.get_file_info([trial._path(n) for n in INPUTS])
    return sorted([i.base_name, i.size, i.mtime_ns] for i in infos
                  if i.type == pafs.FileType.File and (SHARD_RE.match(i.base_name) or i.base_name in INPUTS))


def manifest(trial: Folder, settings: dict) -> dict:
    return {"analysis_version": ANALYSIS_VERSION, "settings": settings, "inputs": fingerprint(trial)}


def up_to_date(experiment: Folder, trial_id: str, settings: dict) -> bool:
    """True when the trial's parts were made with these settings from the inputs it has now."""
    data = experiment.read_bytes(f"{PARTS}/{trial_id}/manifest.json")
    try:
        old = json.loads(data) if data else None
    except ValueError:
        return False
    return old == json.loads(json.dumps(manifest(experiment / f"trials/{trial_id}", settings)))


def write_parts(experiment: Folder, trial_id: str, out: dict[str, list], done: dict) -> None:
    """Write one trial's tables (only the non-empty ones), then its manifest; stale parts are removed."""
    folder = f"{PARTS}/{trial_id}"
    experiment.delete(f"{folder}/manifest.json")  # a crash below leaves the trial marked as not analysed
    for table in (*TABLES, "summary"):
        rows = out.get(table, [])
        if rows:
            sink = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows), sink, compression="zstd")
            experiment.write_bytes(f"{folder}/{table}.parquet", sink.getvalue())
        else:
            experiment.delete(f"{folder}/{table}.parquet")
    experiment.write_bytes(f"{folder}/manifest.json", json.dumps(done, indent=1).encode())


def merge_parts(experiment: Folder, trial_ids: list[str], out_dir: Path) -> dict[str, Path]:
    """Stream the parts of these trials into out_dir/<table>.parquet (and summary.csv); returns the paths.

    A table with no rows anywhere is written as an empty file, so readers always find every table.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table in (*TABLES, "summary"):
        paths[table] = out_dir / f"{table}.parquet"
        schemas = list(_part_schemas(experiment, trial_ids, table))
        if not schemas:
            pq.write_table(pa.table({}), paths[table])
            continue
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        tmp = paths[table].with_name(f".{table}.parquet.tmp")
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:  # a crash leaves the old table whole
            for data in _part_bytes(experiment, trial_ids, table):
                part = pq.read_table(pa.BufferReader(data))
                writer.write_table(_conform(part, schema))
        tmp.replace(paths[table])
    return paths


def _part_schemas(experiment: Folder, trial_ids: list[str], table: str):
    """Each existing part's schema, read from its footer only (no whole-file download)."""
    for trial_id in trial_ids:
        try:
            with experiment.fs.open_input_file(experiment._path(f"{PARTS}/{trial_id}/{table}.parquet")) as f:
                yield pq.read_schema(f)
        except FileNotFoundError:
            continue


def _part_bytes(experiment: Folder, trial_ids: list[str], table: str):
    for trial_id in trial_ids:
        data = experiment.read_bytes(f"{PARTS}/{trial_id}/{table}.parquet")
        if data is not None:
            yield data


def _conform(part: pa.Table, schema: pa.Schema) -> pa.Table:
    """The part with the unified schema's columns (missing ones null) and types."""
    columns = [part.column(f.name).cast(f.type) if f.name in part.column_names
               else pa.nulls(part.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
