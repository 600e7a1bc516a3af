"""Consent and provenance: signed changes, withdrawn works kept out of every batch, taint, retrain, credentials."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from apprentice.errors import BadInput, Conflict, Withdrawn
from apprentice.imports import add_examples
from apprentice.jobs import apply_files
from apprentice.provenance.consent import history, set_consent
from apprentice.provenance.credentials import check
from apprentice.provenance.manifest import apprentices, find
from apprentice.store.workshop import Workshop
from apprentice.train import loop
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.retrain import retrain

from conftest import write_pair_folder

TINY = TrainConfig(patch=8, batch=4, validate_every=5)


SIDES = ("before", "after")


def work_colour(number: int, side: str) -> tuple[int, int, int, int]:
    """Straight RGBA unique to one side of one pair: no two works share a value in any channel, premultiplied."""
    k = 2 * number + SIDES.index(side)
    return 40 + 25 * k, 215 - 20 * k, 60 + 15 * k, 250 - 12 * k


def premultiplied(colour: tuple[int, int, int, int]) -> tuple[int, ...]:
    """A colour as a batch carries it, in units of 1/255²: (r·a, g·a, b·a, 255·a)."""
    *rgb, alpha = colour
    return (*(value * alpha for value in rgb), 255 * alpha)


def batch_colours(batch) -> set[tuple[int, ...]]:
    """Every pixel of a batch (N×4×H×W, premultiplied RGBA in [0, 1]) in units of 1/255², all four channels."""
    values = np.round(batch.permute(0, 2, 3, 1).numpy().astype(np.float64) * 255 * 255).astype(int)
    return {tuple(int(v) for v in pixel) for pixel in values.reshape(-1, 4)}


def solid_pair(folder, number: int) -> None:
    """A 16×16 before/after pair, each side one translucent colour of its own (see work_colour)."""
    for side in SIDES:
        (folder / side).mkdir(parents=True, exist_ok=True)
        Image.new("RGBA", (16, 16), work_colour(number, side)).save(folder / side / f"s{number}.png")


def test_a_consent_change_is_signed_by_the_owner_and_its_history_kept(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 1)
    add_examples(shop, small_task, [folder])
    work = set_consent(shop, [str(folder / "before" / "p0.png")], "withdrawn")[0].work
    set_consent(shop, [work[:10]], "guild:inkers")
    changes = history(shop, work)
    assert [c.scope for c in changes] == ["own", "withdrawn", "guild:inkers"]
    assert all(c.verified() and c.member == shop.member for c in changes)


def test_only_a_works_owner_can_change_its_consent(shop, small_task, tmp_path):
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 1)])
    with shop.catalog.write() as db:
        db.execute("INSERT INTO members (key, name, created_at) VALUES ('ab' || hex(randomblob(31)), 'Bo', 'now')")
        db.execute("UPDATE works SET owner = (SELECT key FROM members WHERE name = 'Bo')")
    work = shop.catalog.row("SELECT id FROM works")["id"]
    with pytest.raises(Conflict, match="only its owner"):
        set_consent(shop, [work], "withdrawn")


def test_an_unknown_scope_is_refused(shop, small_task, tmp_path):
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 1)])
    work = shop.catalog.row("SELECT id FROM works")["id"]
    with pytest.raises(BadInput, match="own, withdrawn or guild"):
        set_consent(shop, [work], "everyone")


@st.composite
def consent_stories(draw) -> list[tuple]:
    """Imports, withdrawals, restores and trainings in any order, then: two pairs imported, one kept, one side of
    the other withdrawn, and a training run, so batches are always drawn after a withdrawal."""
    number, side = st.integers(0, 3), st.sampled_from(SIDES)
    operation = st.one_of(
        st.tuples(st.just("import"), number),
        st.tuples(st.just("withdraw"), number, side),
        st.tuples(st.just("restore"), number, side),
        st.tuples(st.just("train")),
    )
    story = draw(st.lists(operation, max_size=6))
    kept, gone = draw(st.lists(number, min_size=2, max_size=2, unique=True))
    story += [("import", kept), ("import", gone), ("restore", kept, "before"), ("restore", kept, "after")]
    return [*story, ("withdraw", gone, draw(side)), ("train",)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=consent_stories())
def test_no_withdrawn_works_pixels_ever_reach_a_training_batch(tmp_path_factory, monkeypatch, story):
    root = tmp_path_factory.mktemp("property")
    shop = Workshop.init(root / "workshop", "Ada")
    config = {"augment": "none", "net": {"channels": 4, "width": 8, "deep_width": 8, "blocks": 1}}
    shop.new_task("flats", "paired", config)
    imported, withdrawn, batches = set(), set(), []
    real_draw = loop.PatchSampler.draw

    def watched_draw(sampler, seed, step):
        inputs, targets = real_draw(sampler, seed, step)
        batches.append(({n for n, _ in withdrawn}, set(imported), inputs, targets))
        return inputs, targets

    monkeypatch.setattr(loop.PatchSampler, "draw", watched_draw)
    for operation in story:
        if operation[0] == "import":
            solid_pair(root / "pairs", operation[1])
            add_examples(shop, "flats", [root / "pairs"])
            imported.add(operation[1])
        elif operation[0] in ("withdraw", "restore") and operation[1] in imported:
            number, side = operation[1], operation[2]
            scope = "withdrawn" if operation[0] == "withdraw" else "own"
            set_consent(shop, [str(root / "pairs" / side / f"s{number}.png")], scope)
            (withdrawn.add if scope == "withdrawn" else withdrawn.discard)((number, side))
        elif operation[0] == "train" and imported - {n for n, _ in withdrawn}:
            train(shop, "flats", Budget(steps=2), TINY, fresh=True)
    shop.close()
    assert sum(1 for gone, *_ in batches if gone) >= 2, "the story ends with a run drawing after a withdrawal"
    for gone, present, inputs, targets in batches:
        forbidden = {premultiplied(work_colour(number, side)) for number in gone for side in SIDES}
        allowed = {side: {premultiplied(work_colour(n, side)) for n in present - gone} for side in SIDES}
        seen = {"before": batch_colours(inputs), "after": batch_colours(targets)}
        assert not (seen["before"] | seen["after"]) & forbidden, "a withdrawn pair's pixels reached a batch"
        assert seen["before"] <= allowed["before"] and seen["after"] <= allowed["after"], "every pixel, every channel"


def test_a_work_withdrawn_during_a_run_stops_it_and_nothing_is_published(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 3)
    add_examples(shop, small_task, [folder])

    def withdraw_at_step_3(progress):
        if progress.step == 3:
            set_consent(shop, [str(folder / "after" / "p1.png")], "withdrawn")

    with pytest.raises(Withdrawn, match="withdrawn while 'ink' was training"):
        train(shop, small_task, Budget(steps=20), TINY, on_progress=withdraw_at_step_3)
    assert apprentices(shop) == []
    assert not (shop.run_folder(small_task) / "checkpoint.safetensors").exists()


def test_withdrawal_taints_apprentices_and_retrain_makes_a_clean_successor(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 4)
    add_examples(shop, small_task, [folder])
    first = train(shop, small_task, Budget(steps=6), TINY)
    work = set_consent(shop, [str(folder / "before" / "p2.png")], "withdrawn")[0].work
    assert apprentices(shop)[0]["tainted_by"] == [work]
    successor = retrain(shop, small_task)
    assert successor.manifest["lineage"] == {"successor_of": first.id, "because": f"withdrawn: {work[:12]}"}
    assert work not in {p["work"] for e in successor.manifest["examples"] for p in e["parts"].values()}
    rows = {row["id"]: row for row in apprentices(shop)}
    assert rows[successor.id]["tainted_by"] == [] and rows[successor.id]["successor_of"] == first.id
    assert rows[first.id]["tainted_by"] == [work]


@pytest.fixture
def applied(shop, small_task, tmp_path):
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 3)])
    train(shop, small_task, Budget(steps=4), TINY)
    (tmp_path / "new").mkdir()
    Image.new("RGB", (40, 30), "white").save(tmp_path / "new" / "a.png")
    Image.new("RGB", (40, 30), "white").save(tmp_path / "new" / "b.jpg")
    apply_files(shop, small_task, [tmp_path / "new"], tmp_path / "out")
    return tmp_path / "out"


@pytest.mark.parametrize("name", ["a.png", "b.jpg"])
def test_credentials_read_back_and_match_the_catalog(shop, applied, name):
    result = check(shop, applied / name)
    assert result["signature_valid"] and result["pixels_match"] and result["manifest_matches"]
    assert result["claims"]["id"] == find(shop, "ink").id and "Tester" in result["claims"]["learned-from"]
    assert result["passed"] and result["signer"]["standing"] == "own"
    assert "made by apprentice" in result["verdict"]
    assert result["verdict"].endswith("signed by Tester (this workshop's member).")


def test_changed_pixels_are_detected(shop, applied):
    image = Image.open(applied / "a.png")
    text = dict(image.text)
    image = image.copy()
    image.putpixel((3, 3), (255, 0, 0))
    from apprentice.formats.images import write_image

    write_image(image, applied / "a.png", text)
    result = check(shop, applied / "a.png")
    assert result["signature_valid"] and not result["pixels_match"]
    assert not result["passed"] and "pixels were changed" in result["verdict"]


def test_altered_credentials_are_detected(shop, applied):
    from apprentice.formats.images import write_image

    image = Image.open(applied / "a.png")
    text = dict(image.text) | {"apprentice:learned-from": "Someone Else"}
    write_image(image.copy(), applied / "a.png", text)
    result = check(shop, applied / "a.png")
    assert not result["signature_valid"] and "altered or forged" in result["verdict"]


def test_a_file_without_credentials_says_so(shop, tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    result = check(shop, tmp_path / "plain.png")
    assert not result["passed"]
    assert result["verdict"] == (
        f"{tmp_path / 'plain.png'}: failed: it carries no Apprentice credentials, so it proves nothing about who "
        "made it."
    )


def xmp_refusing_training() -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>'
    )


def test_a_file_that_refuses_training_is_refused_unless_its_maker_confirms(shop, small_task, tmp_path):
    from PIL import PngImagePlugin

    folder = write_pair_folder(tmp_path / "pairs", 2)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_refusing_training())
    Image.open(folder / "after" / "p1.png").save(folder / "after" / "p1.png", pnginfo=info)
    with pytest.raises(BadInput, match="must not be used for AI training.*--mine"):
        add_examples(shop, small_task, [folder])
    assert shop.catalog.row("SELECT COUNT(*) AS n FROM works")["n"] == 0
    add_examples(shop, small_task, [folder], {"mine": True})
    reserved = shop.catalog.rows("SELECT reservation FROM works WHERE reservation != ''")
    assert len(reserved) == 1 and "DMI-PROHIBITED-AIMLTRAINING" in reserved[0]["reservation"]
