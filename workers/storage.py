"""Experiment storage on any pyarrow filesystem: a local path, or a URI (s3://, gs://, file://, ...).

Trials always write into a local folder; when the experiment lives on an object store, a `Folder` is the
remote copy each file is uploaded to right after it is written (shard, then checkpoint, then status), so
the remote checkpoint never points past the remote shards. Uploads go to a temporary name and are then
moved, so a reader that lists shards by name never sees a partial one.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow.fs as pafs


def is_uri(location: str) -> bool:
    return "://" in str(location)


class Folder:
    """A folder addressed by relative paths on the filesystem its location names."""

    def __init__(self, location: str | Path):
        location = str(location)
        if not is_uri(location):
            location = str(Path(location).expanduser().resolve())
        self.location = location.rstrip("/")
        try:
            self.fs, self.root = pafs.FileSystem.from_uri(self.location)
        except (ValueError, OSError) as e:  # unknown scheme, missing bucket or credentials
            raise ValueError(f"{location!r} is not a usable storage location ({e}); use a local path or a "
                             f"URI such as s3://bucket/prefix, gs://bucket/prefix or file:///abs/path") from None

    def __truediv__(self, rel: str) -> "Folder":
        return Folder(f"{self.location}/{rel}")

    def _path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def exists(self, rel: str = "") -> bool:
        return self.fs.get_file_info(self._path(rel)).type != pafs.FileType.NotFound

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self._path(rel)) as f:
                return f.readall()
        except (FileNotFoundError, OSError):
            return None

    def write_bytes(self, rel: str, data: bytes) -> None:
        path = self._path(rel)
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        tmp = f"{path.rsplit('/', 1)[0]}/.{path.rsplit('/', 1)[1]}.tmp-{os.getpid()}"
        with self.fs.open_output_stream(tmp) as out:
            out.write(data)
        self.fs.move(tmp, path)

    def put(self, local: Path, rel: str) -> None:
        self.write_bytes(rel, Path(local).read_bytes())

    def get(self, rel: str, local: Path) -> bool:
        data = self.read_bytes(rel)
        if data is None:
            return False
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        Path(local).write_bytes(data)
        return True

    def listdir(self, rel: str = "") -> list[str]:
        selector = pafs.FileSelector(self._path(rel), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector))

    def delete(self, rel: str) -> None:
        if self.exists(rel):
            self.fs.delete_file(self._path(rel))

    def download(self, rel: str, local: Path) -> None:
        """Copy the files directly in folder `rel` (not below) into the local folder."""
        for name in self.listdir(rel):
            if not name.startswith("."):
                self.get(f"{rel}/{name}", Path(local) / name)
