"""Credentials against forgers: a stranger's key, claims the manifest does not back, hostile ids, changed pixels.

`apprentice provenance` must fail loudly (exit 1, with or without --json) for each, and pass an honest output.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from apprentice.cli import main
from apprentice.formats.images import pixel_digest, read_metadata, write_image
from apprentice.guild.signers import guild_signers
from apprentice.identity import Identity, canonical
from apprentice.imports import add_examples
from apprentice.jobs import apply_files
from apprentice.provenance.credentials import PREFIX, check, signed_facts
from apprentice.provenance.manifest import find
from apprentice.store import works
from apprentice.train.loop import Budget, TrainConfig, train

from conftest import write_pair_folder
from guild_network import found_guild, members

pytestmark = pytest.mark.hostile

TINY = TrainConfig(patch=8, batch=4, validate_every=5)


@pytest.fixture
def made(shop, small_task, tmp_path) -> Path:
    """An honest output of this workshop's apprentice for `small_task`."""
    add_examples_and_train(shop, small_task, tmp_path)
    (tmp_path / "new").mkdir()
    Image.new("RGB", (40, 30), "white").save(tmp_path / "new" / "page.png")
    apply_files(shop, small_task, [tmp_path / "new"], tmp_path / "out")
    return tmp_path / "out" / "page.png"


def add_examples_and_train(shop, task: str, tmp_path: Path) -> None:
    add_examples(shop, task, [write_pair_folder(tmp_path / "pairs", 3)])
    train(shop, task, Budget(steps=4), TINY)


def stamp(identity: Identity, image: Image.Image, path: Path, claims: dict[str, str]) -> Path:
    """Write `image` to `path` with credentials making `claims`, validly signed by `identity`."""
    fields = {PREFIX + k: v for k, v in claims.items()} | {
        PREFIX + "pixels-sha256": pixel_digest(image),
        PREFIX + "signer": identity.public_key,
    }
    write_image(image, path, fields | {PREFIX + "signature": identity.sign(canonical(signed_facts(fields)))})
    return path


def claims_of(path: Path) -> dict[str, str]:
    return {k[len(PREFIX) :]: v for k, v in read_metadata(path).items() if k.startswith(PREFIX)}


def provenance(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["provenance", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_a_strangers_valid_signature_over_forged_claims_fails_and_names_the_stranger(shop, made, tmp_path):
    stranger = Identity.create(tmp_path / "stranger.key")
    apprentice = find(shop, "ink")
    forged = claims_of(made) | {"id": apprentice.id, "learned-from": "Famous Painter (0123456789abcdef)"}
    forged.pop("pixels-sha256"), forged.pop("signer"), forged.pop("signature")
    path = stamp(stranger, Image.new("RGB", (40, 30), "red"), tmp_path / "forged.png", forged)
    result = check(shop, path)
    assert result["signature_valid"] and result["pixels_match"] and not result["passed"]
    assert result["signer"] == {"key": stranger.public_key, "name": "", "standing": "unknown", "guilds": []}
    assert result["mismatched"] == ["learned-from"]
    assert result["verdict"] == (
        f"{path}: failed: it was signed by an unknown key '{stranger.public_key[:16]}'… (no member this workshop "
        "or its guilds knows), so it proves nothing about who made it; its claims (learned-from) do not match "
        f"apprentice {apprentice.id}'s manifest; do not trust what its credentials claim."
    )


def test_a_stranger_who_copies_every_honest_claim_still_proves_nothing(shop, made, tmp_path):
    stranger = Identity.create(tmp_path / "stranger.key")
    copied = {k: v for k, v in claims_of(made).items() if k not in ("pixels-sha256", "signer", "signature")}
    path = stamp(stranger, Image.new("RGB", (40, 30), "red"), tmp_path / "forged.png", copied)
    result = check(shop, path)
    assert result["claims_match"] and result["signature_valid"] and result["pixels_match"]
    assert not result["signer_known"] and not result["passed"] and "unknown key" in result["verdict"]


def test_claims_the_manifest_does_not_back_fail_even_under_the_workshops_own_key(shop, made, tmp_path):
    apprentice = find(shop, "ink")
    claims = claims_of(made) | {"task": "flats", "learned-from": "Tester (ffffffffffffffff)"}
    claims |= {"manifest-sha256": "0" * 64}
    claims.pop("pixels-sha256"), claims.pop("signer"), claims.pop("signature")
    path = stamp(shop.identity, Image.open(made).copy(), tmp_path / "claims.png", claims)
    result = check(shop, path)
    assert result["signature_valid"] and result["signer"]["standing"] == "own" and result["pixels_match"]
    assert not result["manifest_matches"] and not result["claims_match"] and not result["passed"]
    assert result["verdict"] == (
        f"{path}: failed: its claims (task, manifest-sha256, learned-from) do not match apprentice {apprentice.id}'s "
        "manifest; do not trust what its credentials claim."
    )


def test_an_apprentice_the_workshop_does_not_have_fails(shop, tmp_path):
    path = stamp(shop.identity, Image.new("RGB", (8, 8)), tmp_path / "x.png", {"id": "0123456789abcdef"})
    result = check(shop, path)
    assert not result["apprentice_known"] and not result["passed"]
    assert result["verdict"].endswith(
        "failed: it names apprentice 0123456789abcdef, which this workshop does not have; "
        "do not trust what its credentials claim."
    )


def test_an_apprentice_id_that_is_a_path_fails_in_one_sentence_and_reads_nothing_outside(shop, tmp_path, monkeypatch):
    decoy = shop.root / "apprentices" / "../../identity"
    decoy.mkdir(parents=True)
    (decoy / "manifest.json").write_text("{}")
    path = stamp(shop.identity, Image.new("RGB", (8, 8)), tmp_path / "x.png", {"id": "../../identity"})
    opened: list[Path] = []
    real_open, real_read_bytes = builtins.open, Path.read_bytes

    def spy_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)):
            opened.append(Path(file).resolve())
        return real_open(file, *args, **kwargs)

    def spy_read_bytes(self: Path) -> bytes:
        opened.append(self.resolve())
        return real_read_bytes(self)

    with monkeypatch.context() as spying:
        spying.setattr(builtins, "open", spy_open)
        spying.setattr(Path, "read_bytes", spy_read_bytes)
        result = check(shop, path)
    assert all(p == path.resolve() or p.is_relative_to(shop.root.resolve()) for p in opened), opened
    assert path.resolve() in opened and not result["apprentice_known"] and not result["passed"]
    assert result["verdict"] == (
        f"{path}: failed: it names '../../identity', which is not an apprentice id; "
        "do not trust what its credentials claim."
    )
    code, out = provenance(path)
    assert code == 1 and "Traceback" not in out and out.strip() == result["verdict"]


def test_changed_pixels_make_provenance_exit_non_zero_with_and_without_json(shop, made):
    image = Image.open(made)
    text = dict(image.text)
    image = image.copy()
    image.putpixel((3, 3), (255, 0, 0))
    write_image(image, made, text)
    code, out = provenance(made)
    assert code == 1 and "pixels were changed" in out
    code, out = provenance(made, "--json")
    [result] = json.loads(out)  # stdout stays JSON; the one-line error goes to stderr
    assert code == 1 and not result["passed"] and not result["pixels_match"]


def test_an_honest_output_passes_with_exit_zero(shop, made):
    code, out = provenance(made)
    assert code == 0 and ": passed: made by apprentice" in out and "signed by Tester (this workshop's member)" in out
    code, out = provenance(made, "--json")
    assert code == 0 and json.loads(out)[0]["passed"]


def test_one_failing_file_among_honest_ones_fails_the_command(shop, made, tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    result = CliRunner().invoke(main, ["provenance", str(made), str(tmp_path / "plain.png")])
    assert result.exit_code == 1
    assert "1 of 2 file(s) failed the provenance check" in result.stderr


def test_a_file_that_is_no_image_fails_without_a_traceback(shop, tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    code, out = provenance(tmp_path / "notes.png")
    assert code == 1 and out.strip().endswith("cannot be read as an image, so it proves nothing; check that it is one.")


def test_a_member_the_catalog_names_is_known_a_stranger_is_not(shop, tmp_path):
    friend = Identity.create(tmp_path / "friend.key")
    with shop.catalog.write() as db:
        works.add_member(db, friend.public_key, "Bo")
    path = stamp(friend, Image.new("RGB", (8, 8)), tmp_path / "x.png", {"id": "0123456789abcdef"})
    result = check(shop, path)
    assert result["signer"]["standing"] == "member" and result["signer_known"]
    assert "unknown key" not in result["verdict"]


def test_a_guild_members_key_is_known_as_theirs(tmp_path):
    ada, ben = members(tmp_path, ["Ada", "Ben"])
    found_guild(ada, ben)
    ada.sync()
    path = stamp(ben.shop.identity, Image.new("RGB", (8, 8)), tmp_path / "x.png", {"id": "0123456789abcdef"})
    result = check(ada.shop, path, guild_signers(ada.shop))
    assert result["signer"] == {"key": ben.shop.member, "name": "Ben", "standing": "guild", "guilds": ["Ink Co-op"]}
    assert "unknown key" not in result["verdict"]
    ada.close()
    ben.close()


def test_a_known_member_who_copies_an_outputs_claims_fails_and_their_name_cannot_steer_the_terminal(
    shop, made, tmp_path
):
    member = Identity.create(tmp_path / "member.key")
    with shop.catalog.write() as db:
        works.add_member(db, member.public_key, "Bo\x1b[2J\nPASSED")
    copied = {k: v for k, v in claims_of(made).items() if k not in ("pixels-sha256", "signer", "signature")}
    path = stamp(member, Image.open(made).copy(), tmp_path / "signed.png", copied)
    result = check(shop, path)
    assert not result["passed"] and result["signer"]["standing"] == "member" and not result["signer_may_hold"]
    key = member.public_key[:16]
    who = f"Bo?[2J?PASSED (a member this workshop knows, key {key})"
    assert (
        f"{who} could not have used apprentice {claims_of(made)['id']}, which is this workshop's own"
        in result["verdict"]
    )
