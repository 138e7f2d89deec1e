"""File plumbing used by every layer: the cache folder, atomic writes and an inter-process lock.

Everything the kit writes (model folders, the shipped body, cached bodies, score files, metadata)
appears whole or not at all: it is written beside its target, then renamed over it in one step.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """Where built artifacts (tokenizer, tiny bodies, SmolLM2 folder) are cached; `NBHELPERS_CACHE` moves it."""
    return Path(os.environ.get("NBHELPERS_CACHE", Path.home() / ".cache" / "nbhelpers"))


def atomic_save(folder, write, overwrite: bool = False) -> Path:
    """Call write(tmp_folder), then move it to `folder` in one rename; never leaves half a folder."""
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        write(tmp)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def save_pretrained_atomically(folder, *objects) -> Path:
    """Replace `folder` with the `save_pretrained` output of each object (model, tokenizer), atomically."""
    return atomic_save(folder, lambda tmp: [obj.save_pretrained(tmp) for obj in objects], overwrite=True)


def atomic_write(path, write) -> Path:
    """Call write(tmp_path) for a temp file beside `path`, then rename it over `path`: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path, text: str) -> Path:
    """`text` written to `path` atomically (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def file_lock(path: Path):
    """An exclusive advisory lock on `path` (POSIX flock; a no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def lock():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return lock()
