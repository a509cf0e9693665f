"""The user cache publishes an entry whole or not at all."""

import hashlib
import os

import pytest

from engram_agents.cache import building, cache_dir, file_hash


def test_a_built_entry_appears_whole_and_a_failed_one_leaves_nothing(tmp_path):
    target = tmp_path / "entries" / "model-abc"
    with building(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"123")
        assert not target.exists()  # nothing visible until the block ends
    assert (target / "weights.bin").read_bytes() == b"123"

    failed = tmp_path / "entries" / "model-def"
    with pytest.raises(ValueError), building(failed) as tmp:
        (tmp / "half.bin").write_bytes(b"1")
        raise ValueError("export failed")
    assert not failed.exists()
    assert sorted(p.name for p in (tmp_path / "entries").iterdir()) == ["model-abc"]


def test_when_another_process_published_first_its_entry_is_kept(tmp_path):
    target = tmp_path / "model"
    with building(target) as first:
        (first / "f").write_text("first")
        with building(target) as second:  # a racing process finishes before us
            (second / "f").write_text("second")
    assert (target / "f").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no scratch folder left


def test_cache_location_and_content_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGRAM_AGENTS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "b").write_bytes(b"x" * 11)
    assert file_hash(tmp_path / "a") != file_hash(tmp_path / "b")
    assert len(file_hash(tmp_path / "a")) == 16


def test_the_hash_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGRAM_AGENTS_CACHE", str(tmp_path / "c"))
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"a" * 100)
    first = file_hash(weights)
    assert first == hashlib.sha256(b"a" * 100).hexdigest()[:16]
    (memo,) = (tmp_path / "c" / "hashes").iterdir()

    memo.write_text(memo.read_text().rsplit(" ", 1)[0] + " remembered")
    assert file_hash(weights) == "remembered"  # same size and time: the file is not reread

    weights.write_bytes(b"b" * 100)  # same size, new content and modification time
    os.utime(weights, ns=(1, 1))
    assert file_hash(weights) == hashlib.sha256(b"b" * 100).hexdigest()[:16]

    memo.write_text("garbage")  # a damaged memo is recomputed, not trusted
    assert file_hash(weights) == hashlib.sha256(b"b" * 100).hexdigest()[:16]
    assert [p.name for p in memo.parent.iterdir()] == [memo.name]  # no scratch file left
