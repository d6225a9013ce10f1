"""Trajectory shards (DESIGN.md, contract v1): the one module that writes and reads them.

A shard is `part-<first step, 9 digits>.parquet`, one row per recorded step, zstd-compressed, written
under a temporary name, fsynced and renamed, so a reader never sees a partial shard. Readers check the
schema version, the row count and the step range against the file name.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = "1"
SHARD_RE = re.compile(r"^part-(\d{9})\.parquet$")
SCALARS = {"step": pa.int64(), "epoch": pa.int32(), "loss": pa.float64(), "accuracy": pa.float32(),
           "lr": pa.float64(), "grad_norm": pa.float64(), "step_norm": pa.float64()}
METADATA_KEYS = ("schema_version", "trial_id", "num_params", "sketch_kind", "sketch_dim", "sketch_seed",
                 "grad_sample_seed")


def shard_schema(sketch_dim: int, grad_sample: int) -> pa.Schema:
    return pa.schema([*(pa.field(n, t, nullable=False) for n, t in SCALARS.items()),
                      pa.field("sketch", pa.list_(pa.float32(), sketch_dim), nullable=False),
                      pa.field("grad_sample", pa.list_(pa.float32(), grad_sample), nullable=False)])


def shard_name(first_step: int) -> str:
    return f"part-{first_step:09d}.parquet"


def write_shard(folder: Path, columns: dict[str, np.ndarray], metadata: dict[str, str]) -> Path:
    """Write one shard atomically; `columns` holds every schema column, sketch/grad_sample as 2D arrays."""
    sketch, grad = columns["sketch"], columns["grad_sample"]
    schema = shard_schema(sketch.shape[1], grad.shape[1]).with_metadata(
        {k: str(metadata[k]) for k in METADATA_KEYS})
    arrays = [pa.array(np.ascontiguousarray(columns[n]), type=t) for n, t in SCALARS.items()]
    arrays += [_fixed_list(sketch), _fixed_list(grad)]
    table = pa.Table.from_arrays(arrays, schema=schema)
    final = Path(folder) / shard_name(int(columns["step"][0]))
    atomic_write(final, lambda f: pq.write_table(table, f, compression="zstd"))
    return final


def _fixed_list(a: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(a, dtype=np.float32).reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, a.shape[1])


def atomic_write(path: Path, write) -> None:
    """Call write(file object) on a temporary sibling, fsync, rename over `path`, fsync the folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path: Path, obj) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True).encode()))


def list_shards(folder: Path) -> list[tuple[int, Path]]:
    """(first step, path) of every complete shard in the folder, sorted; temporary files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = ((SHARD_RE.match(p.name), p) for p in folder.iterdir())
    return sorted((int(m.group(1)), p) for m, p in found if m)


def read_shard(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read and validate one shard (schema version, contiguous steps starting at the file name's step)."""
    path = Path(path)
    m = SHARD_RE.match(path.name)
    if not m:
        raise ValueError(f"{path}: not a shard name; expected part-<9-digit first step>.parquet")
    try:
        schema = pq.read_schema(path)
        version = (schema.metadata or {}).get(b"schema_version", b"").decode(errors="replace")
        if version != SCHEMA_VERSION:
            raise ValueError(f"{path}: schema_version {version!r}; this reader understands "
                             f"{SCHEMA_VERSION!r}: upgrade the package to read newer shards")
        problem = schema_problem(schema)
        if problem:
            raise ValueError(f"{path}: {problem}; not a trajectory shard of contract v1 (DESIGN.md)")
        cols = None if columns is None else sorted(set(columns) | {"step"})
        table = pq.read_table(path, columns=cols)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:  # a corrupt footer can hold non-UTF-8 names
        raise ValueError(f"{path}: unreadable shard ({e}); the file is truncated or corrupt") from None
    steps = table.column("step").to_numpy()
    first = int(m.group(1))
    if len(steps) == 0 or not np.array_equal(steps, np.arange(first, first + len(steps))):
        raise ValueError(f"{path}: steps are not contiguous from {first}; the shard is corrupt")
    return table


def schema_problem(schema: pa.Schema) -> str | None:
    """What breaks contract v1 in a shard's schema (a column missing, repeated or of another type), or None.
    Extra columns are allowed."""
    for name in (*SCALARS, "sketch", "grad_sample"):
        found = [f.type for f in schema if f.name == name]
        if len(found) != 1:
            return f"column {name!r} is missing" if not found else f"column {name!r} appears {len(found)} times"
        kind = found[0]
        if name in SCALARS and kind != SCALARS[name]:
            return f"column {name!r} is {kind}, expected {SCALARS[name]}"
        if name not in SCALARS and not (pa.types.is_fixed_size_list(kind) and kind.value_type == pa.float32()):
            return f"column {name!r} is {kind}, expected fixed_size_list<float32>"
    return None


def shard_metadata(path: Path) -> dict[str, str]:
    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if k.decode() in METADATA_KEYS}


def read_trajectory(folder: Path, columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Concatenate every shard of a trajectory folder into numpy arrays (list columns as 2D float32).

    For analysis of long trials read shard by shard instead; this holds the whole trajectory.
    """
    shards = list_shards(folder)
    if not shards:
        raise FileNotFoundError(f"{folder}: no trajectory shards (part-*.parquet)")
    if shards[0][0] != 0:
        raise ValueError(f"{shards[0][1]}: the first shard starts at step {shards[0][0]}, not 0: shards are missing")
    tables, expected = [], 0
    for first, path in shards:
        if first != expected:
            raise ValueError(f"{path}: starts at step {first}, expected {expected}: a shard is missing")
        tables.append(read_shard(path, columns))
        expected = first + tables[-1].num_rows
    table = pa.concat_tables(tables)
    return {name: column_to_numpy(table.column(name)) for name in table.column_names}


def column_to_numpy(col: pa.ChunkedArray) -> np.ndarray:
    arr = col.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type):
        return arr.flatten().to_numpy().reshape(len(arr), arr.type.list_size)
    return arr.to_numpy()
