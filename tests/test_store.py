"""The workshop folder: idempotent init, identity keys, content-addressed blobs, atomic catalog writes."""

from __future__ import annotations

import stat
import threading

import pytest
import torch

from apprentice.errors import Conflict, NotFound
from apprentice.identity import verify
from apprentice.provenance.manifest import Trained, publish
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


@pytest.mark.parametrize("name", ["..", "a/b", "", ".hidden", "x" * 65, "ink\n"])
def test_a_task_name_that_could_escape_its_folder_is_refused(shop, name):
    from apprentice.errors import BadInput

    with pytest.raises(BadInput, match="cannot name a task"):
        shop.new_task(name, "paired", {})


def publish_at_once(home, makers: int) -> list:
    """`makers` workshops on one folder publish different weights for one task at the same moment."""
    barrier, made, failures = threading.Barrier(makers), [], []

    def publish_one(number: int) -> None:
        shop = Workshop.open(home)
        trained = Trained("ink", {"w": torch.full((2,), float(number))}, [], [], {}, 1, 1.0, METRICS, False, "")
        barrier.wait()
        try:
            made.append(publish(shop, trained))
        except Exception as error:  # noqa: BLE001 - what escapes is the finding
            failures.append(error)
        finally:
            shop.close()

    threads = [threading.Thread(target=publish_one, args=(n,)) for n in range(makers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return made


METRICS = {"validation": "", "best": {"psnr": 20.0, "ssim": 0.5}, "identity": {"psnr": 10.0, "ssim": 0.1}}


def test_runs_publishing_one_task_at_once_take_one_version_each(shop, small_task):
    made = publish_at_once(shop.root, 4)
    assert sorted(a.version for a in made) == [1, 2, 3, 4]
    assert sorted(a.manifest["version"] for a in made) == [1, 2, 3, 4], "the manifest says the catalog's number"


def test_two_makers_of_one_task_name_get_one_task_and_one_sentence(shop):
    outcomes, barrier = [], threading.Barrier(2)

    def make() -> None:
        other = Workshop.open(shop.root)
        barrier.wait()
        try:
            other.new_task("ink", "paired", {})
            outcomes.append("made")
        except Conflict as error:
            outcomes.append(str(error))
        finally:
            other.close()

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["A task named 'ink' already exists; pick another name or use it as it is.", "made"]
