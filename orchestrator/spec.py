"""Grid specifications: YAML -> validated list of TrialConfig, before anything is launched.

A grid has `axes` (lists crossed into trials), `fixed` settings (any other TrialConfig field), optional
`overrides` (when a trial matches `match`, replace some axes and/or set fields: ResNet-110 uses batch
sizes 128/256/512) and `exclude` (combinations to drop). Presets live in orchestrator/presets/.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workers.config import LandscapeSpec, TrialConfig

PRESETS = Path(__file__).parent / "presets"
AXES = ("arch", "shortcut", "dataset", "loss", "batch_size", "lr", "seed")
SECTIONS = ("name", "description", "axes", "fixed", "overrides", "exclude", "analysis", "landscape")
ANALYSIS = {"window": 1000}  # analysis settings and defaults: window length T in steps (DESIGN.md)
FIELDS = {f.name for f in dataclasses.fields(TrialConfig)}


class GridError(ValueError):
    """A one-line message naming the field, the bad value and what is allowed."""


@dataclass(frozen=True)
class GridSpec:
    name: str
    axes: dict
    fixed: dict = field(default_factory=dict)
    overrides: list = field(default_factory=list)
    exclude: list = field(default_factory=list)
    description: str = ""
    analysis: dict = field(default_factory=lambda: dict(ANALYSIS))
    landscape: dict = field(default_factory=dict)  # {} = none; else {match: {axis: values}, LandscapeSpec fields}

    def landscape_trials(self, trials: list[TrialConfig]) -> tuple[list[TrialConfig], LandscapeSpec | None]:
        """The trials whose 2D loss landscape the grid asks for, and its settings."""
        if not self.landscape:
            return [], None
        match = self.landscape.get("match") or {}
        spec = LandscapeSpec(**{k: v for k, v in self.landscape.items() if k != "match"})
        return [t for t in trials if _matches(t.to_dict(), match)], spec

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_grid(grid: str, sets: list[str] = ()) -> GridSpec:
    """A preset name or a YAML path, with `key=value` overrides (`lr=[0.1, 0.5]` sets an axis)."""
    path = PRESETS / f"{grid}.yaml" if (PRESETS / f"{grid}.yaml").exists() else Path(grid)
    if not path.is_file():
        presets = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise GridError(f"--grid: {grid!r} is neither a preset ({', '.join(presets)}) nor a YAML file")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, ValueError, RecursionError) as e:  # ValueError: bad UTF-8, a huge integer
        raise GridError(f"--grid: {path} is not readable YAML ({' '.join(str(e).split())})") from None
    return parse_grid(apply_sets(raw, sets), default_name=path.stem)


def apply_sets(raw, sets) -> dict:
    raw = dict(raw) if isinstance(raw, dict) else raw
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise GridError(f"--set: {item!r} is not key=value (e.g. --set steps=500 or --set lr=[0.1,0.5])")
        try:
            value = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError, RecursionError) as e:
            raise GridError(f"--set: {item!r}: the value is not readable YAML ({' '.join(str(e).split())})") from None
        section = "axes" if key in AXES else "fixed"
        if not isinstance(raw, dict):
            break
        raw[section] = {**(raw.get(section) or {}), key: value if section == "fixed" or isinstance(value, list)
                        else [value]}
    return raw


def parse_grid(raw, *, default_name: str = "grid") -> GridSpec:
    if not isinstance(raw, dict):
        raise GridError(f"grid: the YAML top level is {type(raw).__name__}; expected a mapping with {list(SECTIONS)}")
    unknown = sorted(set(raw) - set(SECTIONS), key=repr)  # YAML keys may mix types
    if unknown:
        raise GridError(f"grid: unknown section(s) {unknown}; allowed: {list(SECTIONS)}")
    axes = _axes(raw.get("axes"), "axes")
    fixed = raw.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise GridError(f"fixed: {fixed!r} is not a mapping of TrialConfig fields")
    _check_keys(fixed, FIELDS - set(AXES), "fixed")
    if not isinstance(raw.get("overrides") or [], list):
        raise GridError("overrides: expected a list of {match: {axis: values}, axes: {...}, fixed: {...}}")
    overrides = [_override(o, i) for i, o in enumerate(raw.get("overrides") or [])]
    exclude = raw.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, dict) for e in exclude):
        raise GridError("exclude: expected a list of mappings such as {arch: resnet110-noshort, lr: 0.5}")
    for i, e in enumerate(exclude):
        _check_keys(e, set(AXES), f"exclude[{i}]")
    return GridSpec(str(raw.get("name") or default_name), axes, fixed, overrides, exclude,
                    str(raw.get("description") or ""), _analysis(raw.get("analysis") or {}),
                    _landscape(raw.get("landscape") or {}))


def _analysis(section) -> dict:
    if not isinstance(section, dict):
        raise GridError(f"analysis: {section!r} is not a mapping; allowed keys: {sorted(ANALYSIS)}")
    _check_keys(section, set(ANALYSIS), "analysis")
    window = section.get("window", ANALYSIS["window"])
    if isinstance(window, bool) or not isinstance(window, int) or window < 4:
        raise GridError(f"analysis.window: {window!r} must be an integer number of steps >= 4 (3 lags)")
    return {**ANALYSIS, **section}


def _landscape(section) -> dict:
    allowed = {"match"} | {f.name for f in dataclasses.fields(LandscapeSpec)}
    if not isinstance(section, dict):
        raise GridError(f"landscape: {section!r} is not a mapping; allowed keys: {sorted(allowed)}")
    _check_keys(section, allowed, "landscape")
    if not isinstance(section.get("match") or {}, dict):
        raise GridError("landscape.match: expected a mapping such as {seed: [0]}")
    _check_keys(section.get("match") or {}, set(AXES), "landscape.match")
    try:
        LandscapeSpec(**{k: v for k, v in section.items() if k != "match"})
    except (ValueError, TypeError) as e:
        raise GridError(str(e)) from None
    return dict(section)


def _axes(axes, where: str) -> dict:
    if not isinstance(axes, dict) or not axes:
        raise GridError(f"{where}: empty; give at least one axis, e.g. arch: [resnet14] (allowed: {list(AXES)})")
    _check_keys(axes, set(AXES), where)
    out = {}
    for key, values in axes.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise GridError(f"{where}.{key}: empty list; the grid would have no trials")
        nested = [v for v in values if not isinstance(v, (str, int, float, bool, type(None)))]
        if nested:
            raise GridError(f"{where}.{key}: {nested[0]!r} is not a single value; list plain values, "
                            f"e.g. {key}: [a, b]")
        out[key] = values
    return out


def _override(o, i: int) -> dict:
    if not isinstance(o, dict) or not isinstance(o.get("match"), dict):
        raise GridError(f"overrides[{i}]: expected {{match: {{axis: values}}, axes: {{...}}, fixed: {{...}}}}")
    _check_keys(o, {"match", "axes", "fixed"}, f"overrides[{i}]")
    _check_keys(o["match"], set(AXES), f"overrides[{i}].match")
    if not isinstance(o.get("fixed") or {}, dict):
        raise GridError(f"overrides[{i}].fixed: {o['fixed']!r} is not a mapping of TrialConfig fields")
    _check_keys(o.get("fixed") or {}, FIELDS - set(AXES), f"overrides[{i}].fixed")
    return {"match": o["match"], "axes": _axes(o["axes"], f"overrides[{i}].axes") if o.get("axes") else {},
            "fixed": o.get("fixed") or {}}


def _check_keys(d: dict, allowed: set, where: str) -> None:
    bad = sorted(set(d) - allowed, key=repr)  # YAML keys may mix types
    if bad:
        raise GridError(f"{where}: unknown field(s) {bad}; allowed: {sorted(allowed)}")


def _matches(values: dict, match: dict) -> bool:
    """True when every key of `match` holds; `arch` matches the full name (resnet110-noshort) or the
    depth alone (resnet110), and `shortcut` matches whether it is an axis or spelled in the arch name."""
    arch = str(values.get("arch", "resnet14"))  # a bad arch is reported by TrialConfig
    short = values.get("shortcut", not arch.endswith("-noshort"))
    base = arch.removesuffix("-noshort")
    view = {**values, "shortcut": short, "arch": base if short else f"{base}-noshort"}
    for key, wanted in match.items():
        wanted = wanted if isinstance(wanted, list) else [wanted]
        names = {view["arch"], base} if key == "arch" else {view.get(key)}
        if not any(w in names for w in wanted if isinstance(w, (str, int, float, bool))):
            return False
    return True


def _product(axes: dict) -> list[dict]:
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def expand(spec: GridSpec, *, data_root_base: Path | None = None) -> list[TrialConfig]:
    """Every trial of the grid, validated, in a stable order; data_root made absolute."""
    trials, seen = [], {}
    for combo in _product(spec.axes):
        matching = [o for o in spec.overrides if _matches(combo, o["match"])]  # all apply, in order
        axes = {k: [v] for k, v in combo.items()}
        fixed = dict(spec.fixed)
        for o in matching:
            axes.update(o["axes"])
            fixed.update(o["fixed"])
        for values in _product(axes):
            if any(_matches(values, e) for e in spec.exclude):
                continue
            cfg = _trial(values, fixed, data_root_base)
            if cfg.trial_id in seen:
                if seen[cfg.trial_id] != cfg:
                    raise GridError(f"grid: two trials share the id {cfg.trial_id} with different settings; "
                                    f"make the differing field an axis or remove the override")
                continue
            seen[cfg.trial_id] = cfg
            trials.append(cfg)
    if not trials:
        raise GridError("grid: no trials left after overrides and exclusions; check `exclude`")
    return trials


def _trial(values: dict, fixed: dict, data_root_base: Path | None) -> TrialConfig:
    values = dict(values)
    if "shortcut" in values:
        short = values.pop("shortcut")
        if not isinstance(short, bool):
            raise GridError(f"axes.shortcut: {short!r} is not allowed; use true or false")
        arch = values.get("arch", "resnet14")
        if not isinstance(arch, str):
            raise GridError(f"arch: {arch!r} is a {type(arch).__name__}; expected str")
        values["arch"] = arch.removesuffix("-noshort") + ("" if short else "-noshort")
    settings = {**fixed, **values}
    if settings.get("data_root"):
        base = data_root_base or Path.cwd()
        try:
            settings["data_root"] = str((base / os.path.expanduser(str(settings["data_root"]))).resolve())
        except (ValueError, OSError) as e:  # a NUL byte, a symlink loop
            raise GridError(f"data_root: {settings['data_root']!r} is not a usable path ({e})") from None
    try:
        return TrialConfig(**settings)
    except ValueError as e:
        raise GridError(str(e)) from None
    except TypeError as e:
        raise GridError(f"grid: {e}") from None
