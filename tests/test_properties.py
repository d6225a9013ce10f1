"""Property-based tests (hypothesis): arbitrary input to the grid parser, the shard reader and --t-w
either works or fails with the documented error type and a one-line message; never a crash.

Falsifying examples found here are kept as explicit cases in tests/test_bad_inputs.py.
"""
from __future__ import annotations

import copy
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.report import parse_t_w
from orchestrator.spec import AXES, FIELDS, PRESETS, SECTIONS, GridError, expand, load_grid, parse_grid
from workers.config import LandscapeSpec
from workers.shards import SCALARS, read_shard, write_shard

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEMO = yaml.safe_load((PRESETS / "demo.yaml").read_text())

# -- the grid parser ------------------------------------------------------------------------------------

# Keys the parser knows, so that random documents reach past the first check.
KNOWN_KEYS = sorted({*SECTIONS, *AXES, *FIELDS, "match", *(f.name for f in dataclasses.fields(LandscapeSpec))})
SCALAR = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-3, max_value=2000)
          | st.floats() | st.text(max_size=12) | st.sampled_from(["resnet14", "digits", "ce", "kl", "final"]))
KEY = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8) | st.integers(-2, 2) | st.none() | st.booleans()
YAMLISH = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(KEY, inner, max_size=4), max_leaves=16)


def _grid_outcome(raw) -> str:
    """'ok' when the grid parses and expands, 'error' for a one-line GridError; anything else raises."""
    try:
        spec = parse_grid(raw)
        trials = expand(spec)
        spec.landscape_trials(trials)
        yaml.safe_dump(spec.to_dict())  # what orchestrator.grid stores as grid.yaml
    except GridError as e:
        message = str(e)
        assert message.strip() and "\n" not in message, repr(message)
        return "error"
    assert trials
    return "ok"


@SETTINGS
@given(YAMLISH)
def test_grid_parser_on_arbitrary_yaml_values(raw):
    _grid_outcome(raw)


@SETTINGS
@given(st.fixed_dictionaries({}, optional={s: YAMLISH for s in SECTIONS}))
def test_grid_parser_on_documents_with_known_sections(raw):
    _grid_outcome(raw)


# Documents shaped like grids (valid-looking sections mixed with arbitrary values), so that the checks
# after `axes` (overrides, exclude, analysis, landscape, expansion) are reached as well.
PLAUSIBLE = st.sampled_from(["resnet14", "resnet20-noshort", "resnet110", "digits", "mnist", "ce", "kl", True, False,
                             0, 1, 32, 64, 0.1, 0.5, -1, "", None])
VALUE = SCALAR | PLAUSIBLE
MATCH = st.dictionaries(st.sampled_from(AXES), VALUE | st.lists(VALUE, max_size=2), max_size=2)
GRID_AXES = st.dictionaries(st.sampled_from(AXES), st.lists(PLAUSIBLE, min_size=1, max_size=2) | VALUE,
                            min_size=1, max_size=3)
FIXED = st.dictionaries(st.sampled_from(sorted(FIELDS - set(AXES))), VALUE, max_size=3)
GRID = st.fixed_dictionaries({"axes": GRID_AXES | YAMLISH}, optional={
    "name": VALUE, "fixed": FIXED | YAMLISH, "exclude": st.lists(MATCH, max_size=2) | YAMLISH,
    "overrides": st.lists(st.fixed_dictionaries({"match": MATCH}, optional={"axes": GRID_AXES | YAMLISH,
                                                                            "fixed": FIXED | YAMLISH})
                          | YAMLISH, max_size=2) | YAMLISH,
    "analysis": st.fixed_dictionaries({}, optional={"window": VALUE | st.integers(3, 2000)}) | YAMLISH,
    "landscape": st.fixed_dictionaries({}, optional={"match": MATCH | YAMLISH, "n": VALUE, "span": VALUE,
                                                     "samples": VALUE, "seed": VALUE, "chunk": VALUE, "at": VALUE})
    | YAMLISH})


@SETTINGS
@given(GRID)
def test_grid_parser_on_grid_shaped_documents(raw):
    _grid_outcome(raw)


@SETTINGS
@given(st.lists(st.text(max_size=20) | st.builds("{}={}".format, st.sampled_from([*AXES, "steps", "x"]),
                                                  st.text(max_size=12)), max_size=3))
def test_set_overrides_on_a_preset(sets):
    try:
        expand(load_grid("smoke", sets))
    except GridError as e:
        assert str(e).strip() and "\n" not in str(e), repr(str(e))


def _paths(node, prefix=()):
    """Every (path to a value) in a nested dict/list document."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _mutate(doc, path, how, value):
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    old = parent[key]
    if how == "remove":
        del parent[key]
    elif how == "replace":
        parent[key] = value
    elif how == "retype":
        parent[key] = {"str": str(old), "list": [old], "dict": {"value": old}, "none": None,
                       "int": 7, "float": -0.5, "bool": True}[value]
    else:  # rename the key
        if isinstance(parent, dict):
            parent[value] = parent.pop(key)


@SETTINGS
@given(st.data())
def test_grid_parser_on_mutations_of_the_demo_preset(data):
    doc = copy.deepcopy(DEMO)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        how = data.draw(st.sampled_from(["remove", "replace", "retype", "rename"]), label="how")
        value = data.draw({"remove": st.none(), "replace": YAMLISH,
                           "retype": st.sampled_from(["str", "list", "dict", "none", "int", "float", "bool"]),
                           "rename": KEY}[how], label="value")
        _mutate(doc, path, how, value)
    _grid_outcome(doc)


def test_the_demo_preset_itself_parses():
    assert _grid_outcome(copy.deepcopy(DEMO)) == "ok"


# -- the shard reader -----------------------------------------------------------------------------------

META = {"schema_version": "1", "trial_id": "t", "num_params": 10, "sketch_kind": "countsketch",
        "sketch_dim": 3, "sketch_seed": 0, "grad_sample_seed": 0}


def _valid_shard_bytes(first: int = 0, n: int = 6) -> bytes:
    rng = np.random.default_rng(0)
    columns = {"step": np.arange(first, first + n), "epoch": np.zeros(n, np.int32), "loss": rng.random(n),
               "accuracy": rng.random(n).astype(np.float32), "lr": np.full(n, 0.1), "grad_norm": rng.random(n),
               "step_norm": rng.random(n), "sketch": rng.random((n, 3), dtype=np.float32),
               "grad_sample": rng.random((n, 2), dtype=np.float32)}
    with tempfile.TemporaryDirectory() as tmp:
        return write_shard(Path(tmp), columns, META).read_bytes()


VALID = _valid_shard_bytes()


def _read_outcome(data: bytes | None = None, *, table: pa.Table | None = None, first: int = 0) -> str:
    """Write the bytes (or table) as a shard and read it: 'ok' with a contract-valid table, or 'error'
    for a ValueError naming the path; anything else raises."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"part-{first:09d}.parquet"
        if table is not None:
            pq.write_table(table, path)
        else:
            path.write_bytes(data)
        try:
            out = read_shard(path)
        except ValueError as e:
            assert str(path) in str(e), str(e)
            return "error"
    steps = out.column("step").to_pylist()
    assert steps and steps == list(range(first, first + len(steps)))
    for name, kind in SCALARS.items():
        assert out.schema.field(name).type == kind, name
    for name in ("sketch", "grad_sample"):
        assert pa.types.is_fixed_size_list(out.schema.field(name).type), name
    return "ok"


def test_the_valid_shard_reads():
    assert _read_outcome(VALID) == "ok"


@SETTINGS
@given(st.binary(max_size=3000) | st.binary(max_size=3000).map(lambda b: b"PAR1" + b + b"PAR1"))
def test_shard_reader_on_random_bytes(data):
    _read_outcome(data)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(VALID)))
def test_shard_reader_on_flipped_and_truncated_shards(flips, keep):
    data = bytearray(VALID)
    for i, byte in flips:
        data[i] ^= byte or 1
    _read_outcome(bytes(data))
    _read_outcome(VALID[:keep])


TYPES = [pa.int64(), pa.int32(), pa.float64(), pa.float32(), pa.bool_(), pa.string(), pa.binary(),
         pa.list_(pa.float32()), pa.list_(pa.float32(), 2), pa.list_(pa.float64(), 2), pa.list_(pa.int64(), 1),
         pa.struct([("a", pa.int64())]), pa.timestamp("s"), pa.null()]
NAMES = [*SCALARS, "sketch", "grad_sample", "extra"]


CONTRACT = [*SCALARS.items(), ("sketch", pa.list_(pa.float32(), 2)), ("grad_sample", pa.list_(pa.float32(), 2))]


@st.composite
def shard_tables(draw):
    """Either the contract's columns with a few dropped, repeated, retyped or added, or random columns."""
    n = draw(st.integers(0, 5))
    first = draw(st.sampled_from([0, 3]))
    if draw(st.booleans()):
        columns = list(CONTRACT)
        for _ in range(draw(st.integers(0, 2))):
            i = draw(st.integers(0, len(columns) - 1))
            how = draw(st.sampled_from(["drop", "retype", "repeat", "add"]))
            if how == "drop":
                del columns[i]
            elif how == "retype":
                columns[i] = (columns[i][0], draw(st.sampled_from(TYPES)))
            else:
                extra = (draw(st.sampled_from(NAMES)), draw(st.sampled_from(TYPES)))
                columns.append(columns[i] if how == "repeat" else extra)
            if not columns:
                break
    else:
        names = draw(st.lists(st.sampled_from(NAMES), max_size=len(NAMES) + 1))  # duplicates allowed
        columns = [(name, draw(st.sampled_from(TYPES))) for name in names]
    arrays, names = [], [name for name, _ in columns]
    for name, kind in columns:
        contiguous = name == "step" and draw(st.booleans())
        ints = list(range(first, first + n)) if contiguous else \
            draw(st.lists(st.integers(-2, 8), min_size=n, max_size=n))
        arrays.append(_array(kind, ints, not contiguous and draw(st.booleans())))
    meta = draw(st.just({"schema_version": "1"}) | st.sampled_from([{"schema_version": "2"}, {}, {"schema_version": ""},
                                                                     {"schema_version": b"\xff\xfe"}]))
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    return table.replace_schema_metadata(meta), first


def _array(kind: pa.DataType, ints: list[int], nulls: bool) -> pa.Array:
    values = [None if nulls and i % 3 == 0 else i for i in ints]
    if pa.types.is_null(kind):
        return pa.nulls(len(ints))
    if pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind):
        size = kind.list_size if pa.types.is_fixed_size_list(kind) else 2
        return pa.array([None if v is None else [v] * size for v in values], type=kind)
    if pa.types.is_struct(kind):
        return pa.array([None if v is None else {"a": v} for v in values], type=kind)
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return pa.array([None if v is None else str(v) for v in values]).cast(kind)
    if pa.types.is_boolean(kind):
        return pa.array([None if v is None else bool(v % 2) for v in values], type=kind)
    if pa.types.is_timestamp(kind):
        return pa.array(values, type=pa.int64()).cast(kind)
    return pa.array(values, type=pa.int64()).cast(kind)


@SETTINGS
@given(shard_tables())
def test_shard_reader_on_tables_with_random_schemas(drawn):
    table, first = drawn
    _read_outcome(table=table, first=first)


# -- --t-w ----------------------------------------------------------------------------------------------

@SETTINGS
@given(st.text(max_size=30) | st.text(alphabet="0123456789, -+_.\n\t\u0663\u00b2\uff11", max_size=20))
def test_t_w_parser_on_arbitrary_text(text):
    try:
        starts = parse_t_w(text)
    except ValueError as e:
        message = str(e)
        assert message.startswith("--t-w: ") and "\n" not in message, repr(message)
        return
    assert starts == sorted(set(starts)) and starts and all(isinstance(s, int) and s >= 0 for s in starts)
