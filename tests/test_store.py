"""The workshop folder: idempotent init, identity keys, content-addressed blobs, atomic catalog writes."""

from __future__ import annotations

import stat

import pytest

from apprentice.errors import Conflict, NotFound
from apprentice.identity import verify
from apprentice.store.blobs import BlobStore, digest
from apprentice.store.workshop import Workshop


def test_init_twice_keeps_the_same_member_and_identity(home):
    first = Workshop.init(home, "Ada")
    second = Workshop.init(home)
    assert first.member == second.member and second.member_name(second.member) == "Ada"
    assert stat.S_IMODE((home / "identity.key").stat().st_mode) == 0o600


def test_a_members_signature_verifies_and_a_changed_message_does_not(shop):
    signature = shop.identity.sign(b"consent: own")
    assert verify(shop.member, b"consent: own", signature)
    assert not verify(shop.member, b"consent: withdrawn", signature)


def test_opening_a_folder_without_a_workshop_says_to_run_init(tmp_path):
    with pytest.raises(NotFound, match="apprentice init"):
        Workshop.open(tmp_path / "nothing")


def test_a_task_name_is_taken_once(shop):
    shop.new_task("flats", "paired", {})
    with pytest.raises(Conflict, match="flats"):
        shop.new_task("flats", "paired", {})


def test_blobs_are_stored_once_under_their_sha256(tmp_path):
    blobs = BlobStore(tmp_path)
    key = blobs.put(b"a drawing")
    assert key == digest(b"a drawing") and blobs.put(b"a drawing") == key
    assert blobs.get(key) == b"a drawing"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [key[2:]]


def test_a_write_that_fails_midway_leaves_the_catalog_as_it_was(shop):
    shop.new_task("flats", "paired", {})
    with pytest.raises(RuntimeError), shop.catalog.write() as db:
        db.execute("INSERT INTO tasks (name, kind, config, created_at) VALUES ('x', 'paired', '{}', 'now')")
        raise RuntimeError("killed")
    assert [t.name for t in shop.tasks()] == ["flats"]


@pytest.mark.parametrize("name", ["..", "a/b", "", ".hidden", "x" * 65])
def test_a_task_name_that_could_escape_its_folder_is_refused(shop, name):
    from apprentice.errors import BadInput

    with pytest.raises(BadInput, match="cannot name a task"):
        shop.new_task(name, "paired", {})
