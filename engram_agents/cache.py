"""The user cache of what is built once from embedded weights (the converted chat model, the
int8 ONNX encoder): keyed by the source file's hash, published atomically so that processes
starting together never see a half-written entry."""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    """`ENGRAM_AGENTS_CACHE`, or the platform's user cache folder."""
    return Path(os.environ.get("ENGRAM_AGENTS_CACHE", user_cache_dir("engram-agents")))


def file_hash(path: Path) -> str:
    """The file's sha256 prefix, remembered in the cache beside its size and modification time,
    so that a process start does not reread hundreds of megabytes of embedded weights."""
    stat = path.stat()
    stamp = f"{stat.st_size} {stat.st_mtime_ns}"
    memo = cache_dir() / "hashes" / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    try:
        remembered, digest = memo.read_text().rsplit(" ", 1)
        if remembered == stamp:
            return digest
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()[:16]
    try:  # published whole: a process starting beside this one reads all of it or nothing
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(f"{stamp} {digest}")
        os.replace(tmp, memo)
    except OSError:  # a read-only cache only costs the rereading
        pass
    return digest


@contextmanager
def building(target: Path) -> Iterator[Path]:
    """A scratch folder beside `target` that becomes `target` when the block succeeds (or is
    dropped if another process published it first, or if the block fails)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError:
        if not target.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # a no-op once replaced
