"""The build's storage pieces on their own: hashing, atomic writes, the verified content-addressed store,
the all-or-nothing Staging, leftovers of dead processes and the project lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from vqr_analysis.core.errors import VqrError
from vqr_analysis.store import staging as staging_mod
from vqr_analysis.store.cache import ContentStore, atomic_path, digest, file_digest, is_pdf, tree_digest
from vqr_analysis.store.lock import HOLDER_FILE, ProjectLock
from vqr_analysis.store.staging import Staging, pid_alive, remove_dead_leftovers

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- hashing and atomic writes ----------------------------------------------------------------------------

def test_digest_is_order_sensitive_for_parts_not_for_dict_keys():
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest("a", "b") != digest("b", "a")
    assert digest("ab") != digest("a", "b")


def test_file_and_tree_digests_see_every_change(tmp_path):
    assert file_digest(tmp_path / "missing") == "absent" == tree_digest(tmp_path / "missing")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("1")
    before = tree_digest(tmp_path / "d")
    (tmp_path / "d" / "x.txt").write_text("2")
    assert tree_digest(tmp_path / "d") != before
    (tmp_path / "d" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "d" / ".ipynb_checkpoints" / "x.txt").write_text("ignored")
    assert tree_digest(tmp_path / "d") == tree_digest(tmp_path / "d")


def test_atomic_path_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("last good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("cut short")
    assert target.read_text() == "last good"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_is_pdf_wants_header_and_end_marker(tmp_path):
    good, garbage, cut = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "c.pdf"
    good.write_bytes(PDF)
    garbage.write_bytes(b"0123456789abcdef")
    cut.write_bytes(PDF[:20])
    assert is_pdf(good) and not is_pdf(garbage) and not is_pdf(cut) and not is_pdf(tmp_path / "none.pdf")


# --- the content-addressed store ----------------------------------------------------------------------------

def test_store_round_trip_and_stale_keys_pruned(tmp_path):
    store = ContentStore(tmp_path / "briefs")
    first = store.put("tarim", "k1", ".pdf", PDF)
    assert store.get("tarim", "k1", ".pdf", check=is_pdf) == first
    store.put("tarim", "k2", ".pdf", PDF)
    assert store.get("tarim", "k1", ".pdf") is None  # the older key of the same unit is gone
    assert store.get("tarim", "k2", ".pdf") is not None
    store.put("tacheng", "k9", ".pdf", PDF)
    assert store.get("tarim", "k2", ".pdf") is not None  # another unit's entry does not prune it


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no sidecar", "sidecar of another unit"])
def test_damaged_entry_is_dropped_and_reported_as_a_miss(tmp_path, damage):
    store = ContentStore(tmp_path)
    entry = store.put("tarim", "k1", ".pdf", PDF)
    meta = entry.with_name(entry.name + ".meta.json")
    if damage == "garbage":
        entry.write_bytes(b"0123456789abcdef")
    elif damage == "truncated":
        entry.write_bytes(PDF[:10])
    elif damage == "no sidecar":
        meta.unlink()
    else:  # another unit's entry copied over this one, sidecar included
        other = store.put("tacheng", "k1", ".pdf", PDF + b"% tacheng\n")
        entry.write_bytes(other.read_bytes())
        meta.write_text(other.with_name(other.name + ".meta.json").read_text())
    assert store.get("tarim", "k1", ".pdf", check=is_pdf) is None
    assert not entry.exists() and not meta.exists()


def test_entry_failing_its_validity_check_is_dropped_even_with_a_matching_hash(tmp_path):
    store = ContentStore(tmp_path)
    entry = store.put("tarim", "k1", ".pdf", b"not a pdf but hashed as stored")
    assert store.get("tarim", "k1", ".pdf") == entry  # the hash alone matches
    assert store.get("tarim", "k1", ".pdf", check=is_pdf) is None
    assert not entry.exists()


# --- staging ------------------------------------------------------------------------------------------------

def _live(tmp_path):
    db, site = tmp_path / "vqr.duckdb", tmp_path / "site"
    db.write_bytes(b"last good db")
    site.mkdir()
    (site / "index.html").write_text("last good site")
    return db, site


def _stage(tmp_path, db, site) -> Staging:
    staging = Staging(tmp_path / "build" / f".staging-{os.getpid()}").open()
    staging.file(db).write_bytes(b"new db")
    (staging.folder(site) / "index.html").write_text("new site")
    return staging


def test_staging_publishes_every_target(tmp_path):
    db, site = _live(tmp_path)
    staging = _stage(tmp_path, db, site)
    staging.publish()
    assert db.read_bytes() == b"new db" and (site / "index.html").read_text() == "new site"
    assert (site / ".vqr-output").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "vqr.duckdb"]
    assert not (tmp_path / "build" / f".staging-{os.getpid()}").exists()


def test_staging_discard_leaves_live_outputs_alone(tmp_path):
    db, site = _live(tmp_path)
    staging = _stage(tmp_path, db, site)
    staging.discard()
    assert db.read_bytes() == b"last good db" and (site / "index.html").read_text() == "last good site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "vqr.duckdb"]


def test_failed_site_swap_undoes_the_database_swap(tmp_path, monkeypatch):
    db, site = _live(tmp_path)
    staging = _stage(tmp_path, db, site)
    real = staging_mod._swap_in

    def fail_on_site(staged, target):
        if target == site:
            raise PermissionError(1, "Operation not permitted")
        real(staged, target)

    monkeypatch.setattr(staging_mod, "_swap_in", fail_on_site)
    with pytest.raises(VqrError, match="cannot replace it .Operation not permitted.; nothing was published") as info:
        staging.publish()
    assert str(site) in str(info.value)
    assert db.read_bytes() == b"last good db" and (site / "index.html").read_text() == "last good site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "vqr.duckdb"]


def test_unwritable_target_is_refused_before_anything_moves(tmp_path, monkeypatch):
    db, site = _live(tmp_path)
    staging = _stage(tmp_path, db, site)
    monkeypatch.setattr(staging_mod, "_writable", lambda path: path != site)
    with pytest.raises(VqrError, match="not writable"):
        staging.publish()
    assert db.read_bytes() == b"last good db" and (site / "index.html").read_text() == "last good site"


# --- leftovers of killed processes --------------------------------------------------------------------------

def test_leftovers_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    assert not pid_alive(dead) and pid_alive(alive)
    build = tmp_path / "build"
    build.mkdir()
    (tmp_path / "site").mkdir()
    garbage = [tmp_path / f".vqr.duckdb.building-{dead}", tmp_path / f".vqr.duckdb.building-{dead}.wal",
               build / f".staging-{dead}", tmp_path / f".site.staging-{dead}", tmp_path / f".site.building-{dead}-x1"]
    kept = [tmp_path / f".vqr.duckdb.building-{alive}", build / f".staging-{alive}", tmp_path / "notes.building-1"]
    for path in garbage + kept:
        path.mkdir() if "staging" in path.name or "-x1" in path.name else path.write_bytes(b"x")
    remove_dead_leftovers([tmp_path, build])
    assert not [p for p in garbage if p.exists()]
    assert all(p.exists() for p in kept)


def test_a_site_left_moved_aside_by_a_kill_is_put_back(tmp_path):
    dead = _dead_pid()
    old = tmp_path / f".site.old-{dead}"
    old.mkdir()
    (old / "index.html").write_text("last good site")
    remove_dead_leftovers([tmp_path])
    assert (tmp_path / "site" / "index.html").read_text() == "last good site" and not old.exists()


# --- the lock -------------------------------------------------------------------------------------------------

def _hold_lock(folder, ready, release):  # runs in another process
    with ProjectLock(folder, command="build"):
        ready.set()
        release.wait(30)


def test_lock_survives_deleting_its_file(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        info = json.loads((tmp_path / HOLDER_FILE).read_text())
        assert info["pid"] == holder.pid and info["command"] == "build"
        (tmp_path / HOLDER_FILE).unlink()
        for name in os.listdir(tmp_path):
            os.unlink(tmp_path / name)
        with pytest.raises(VqrError, match="another vqr command is writing this project"):
            with ProjectLock(tmp_path, command="db"):
                pass
    finally:
        release.set()
        holder.join(30)
    with ProjectLock(tmp_path, command="db"):  # released with its holder
        pass


def test_lock_is_exclusive_within_one_process_and_names_the_holder(tmp_path):
    with ProjectLock(tmp_path, command="build"):
        with pytest.raises(VqrError, match=r"another vqr build is running \(pid \d+, started .*--wait"):
            with ProjectLock(tmp_path, command="build"):
                pass
    with ProjectLock(tmp_path, command="site"):
        pass
