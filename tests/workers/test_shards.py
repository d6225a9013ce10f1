import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.synthetic import shard_columns
from workers.shards import list_shards, read_shard, read_trajectory, shard_metadata, write_shard

META = {"schema_version": "1", "trial_id": "t", "num_params": 10, "sketch_kind": "countsketch",
        "sketch_dim": 4, "sketch_seed": 0, "grad_sample_seed": 0}


def test_round_trip_schema_and_metadata(tmp_path):
    cols = [shard_columns(0, 5), shard_columns(5, 3)]
    for c in cols:
        write_shard(tmp_path, c, META)
    assert [p.name for _, p in list_shards(tmp_path)] == ["part-000000000.parquet", "part-000000005.parquet"]
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]
    back = read_trajectory(tmp_path)
    for name in cols[0]:
        assert np.array_equal(back[name], np.concatenate([c[name] for c in cols])), name
    schema = pq.read_schema(tmp_path / "part-000000000.parquet")
    assert schema.field("sketch").type == pa.list_(pa.float32(), 4)
    assert schema.field("epoch").type == pa.int32() and schema.field("accuracy").type == pa.float32()
    assert shard_metadata(tmp_path / "part-000000005.parquet") == {k: str(v) for k, v in META.items()}
    assert pq.ParquetFile(tmp_path / "part-000000000.parquet").metadata.row_group(0).column(0).compression == "ZSTD"


def test_reader_refuses_newer_schema_truncation_gaps_and_misnamed_files(tmp_path):
    write_shard(tmp_path, shard_columns(0, 4), {**META, "schema_version": "2"})
    with pytest.raises(ValueError, match="schema_version '2'.*upgrade"):
        read_shard(tmp_path / "part-000000000.parquet")
    path = write_shard(tmp_path, shard_columns(0, 4), META)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_shard(path)
    write_shard(tmp_path, shard_columns(0, 4), META)
    write_shard(tmp_path, shard_columns(6, 4), META)
    with pytest.raises(ValueError, match="part-000000006.parquet: starts at step 6, expected 4"):
        read_trajectory(tmp_path)
    (tmp_path / "part-000000006.parquet").rename(tmp_path / "part-000000004.parquet")
    with pytest.raises(ValueError, match="not contiguous from 4"):
        read_trajectory(tmp_path)
    with pytest.raises(FileNotFoundError, match="no trajectory shards"):
        read_trajectory(tmp_path / "nothing")


def test_reader_requires_the_trajectory_to_start_at_step_0(tmp_path):
    write_shard(tmp_path, shard_columns(10, 4), META)
    with pytest.raises(ValueError, match="starts at step 10, not 0"):
        read_trajectory(tmp_path)
