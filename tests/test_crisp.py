"""Outputs finished as the artist finishes: palette-exact pixel art, hard alpha, clean white paper (issue 17).

The decisions are judged from the afters at training time, recorded in the manifest, and overridable on the task.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apprentice.cli import main
from apprentice.errors import BadInput
from apprentice.formats.images import indexed_like, palette_colours
from apprentice.imports import add_examples
from apprentice.jobs import apply
from apprentice.kinds import get_kind
from apprentice.kinds.finish import SURE, Finish, candidates, finish, judge, kept
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.settings import set_finish

from conftest import ball

FAST = TrainConfig(patch=32, batch=4, validate_every=5)
SPRITE = np.array([[0, 0, 0, 0], [200, 40, 40, 255], [40, 160, 60, 255], [250, 220, 90, 255]], dtype=np.uint8)
OUTLINE = np.array([30, 20, 40, 255], dtype=np.uint8)


def sprite(seed: int, size: int = 32) -> np.ndarray:
    """A blocky sprite of three flat colours on a transparent ground."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 4, (size // 4, size // 4))
    blocks[[0, -1], :] = blocks[:, [0, -1]] = 0
    return SPRITE[np.kron(blocks, np.ones((4, 4), dtype=int))]


def outlined(before: np.ndarray) -> np.ndarray:
    """The sprite with a one-pixel dark outline on the transparent pixels beside opaque ones."""
    opaque = before[..., 3] > 0
    near = np.zeros_like(opaque)
    near[1:] |= opaque[:-1]
    near[:-1] |= opaque[1:]
    near[:, 1:] |= opaque[:, :-1]
    near[:, :-1] |= opaque[:, 1:]
    after = before.copy()
    after[near & ~opaque] = OUTLINE
    return after


def photo(seed: int, size: int = 32) -> np.ndarray:
    """Smooth gradients in every channel, alpha included: many colours, soft edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [np.sin(x * rng.uniform(2, 6) + y * rng.uniform(2, 6) + rng.uniform(0, 6)) for _ in range(4)]
    return np.round((np.stack(channels, axis=-1) + 1) * 127.5).astype(np.uint8)


def test_a_small_palette_with_hard_alpha_is_judged_from_the_afters():
    examples = [(outlined(sprite(seed)), [sprite(seed)]) for seed in range(3)]
    judged = judge(examples)
    assert sorted(map(tuple, judged.palette)) == sorted(map(tuple, [*SPRITE.tolist(), OUTLINE.tolist()]))
    assert judged.alpha and judged.keeps_input and not judged.paper


def test_sprites_of_many_colours_outlined_in_one_are_judged_pixel_art_that_keeps_their_own_colours():
    rng = np.random.default_rng(3)
    examples = []
    for seed in range(25):  # each sprite in 3 colours of its own: 75 in all, more than a palette holds
        own = np.concatenate([[[0, 0, 0, 0]], np.c_[rng.integers(0, 256, (3, 3)), np.full(3, 255)]]).astype(np.uint8)
        before = own[(sprite(seed)[..., None, :] == SPRITE).all(axis=-1).argmax(axis=-1)]
        examples.append((outlined(before), [before]))
    judged = judge(examples)
    assert judged.keeps_input and judged.palette == [OUTLINE.tolist()]


def test_soft_alpha_is_not_called_binary():
    soft = sprite(0)
    soft[8:12, 8:12, 3] = 128
    assert not judge([(soft, [sprite(0)])]).alpha


def test_clean_white_paper_with_few_ink_tones_is_judged_and_grey_fog_snaps_to_white():
    page = np.full((32, 32, 4), 255, dtype=np.uint8)
    page[10:12, :, :3] = 0
    page[20, :, :3] = 60  # a second ink tone
    judged = judge([(page, [page])])
    assert judged.paper == (60 + 256) // 2
    fogged = page.copy()
    fogged[0:5, :, :3] = 235  # faint construction lines the artist never leaves
    assert (finish(fogged, [page], Finish(paper=judged.paper)) == page).all()


@pytest.mark.parametrize("line", [128, 200, 247, 255])
def test_paper_is_exactly_the_opaque_pixels_whose_darkest_channel_reaches_the_line(line):
    rng = np.random.default_rng(line)
    page = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
    page[..., :3] = np.where(rng.random((64, 64, 1)) < 0.5, 255 - page[..., :3] // 16, page[..., :3])  # near paper
    page[..., 3] = np.where(rng.random((64, 64)) < 0.7, 255, page[..., 3])
    paper = (page[..., 3] == 255) & (page[..., :3].min(axis=-1) >= line)
    wanted = np.where(paper[..., None], np.uint8(255), page)
    assert 0 < paper.sum() < paper.size
    assert (finish(page, [page], Finish(paper=line)) == wanted).all()


def test_opaque_afters_make_opaque_outputs_with_no_holes_where_the_network_is_unsure():
    page = np.full((32, 32, 4), 255, dtype=np.uint8)
    page[10:12, :, :3] = 0
    judged = judge([(page, [page])])
    assert judged.alpha and judged.opaque and "opaque" in judged.describe()
    unsure = page.copy()
    unsure[10, :, 3] = 200  # an ink line the network drew a little transparent
    done = finish(unsure, [page], Finish(alpha=True, opaque=True))
    assert (done[..., 3] == 255).all() and (done[10, :, :3] == 55).all()  # black at 200/255 over white paper


def test_a_photo_like_task_is_left_continuous():
    examples = [(photo(seed), [photo(seed + 10)]) for seed in range(3)]
    judged = judge(examples)
    assert judged == Finish()
    assert (finish(photo(0), [photo(1)], judged) == photo(0)).all()


def test_finishing_snaps_each_pixel_to_a_palette_colour_or_its_input_and_hardens_alpha():
    before = sprite(1)
    new_colour = np.array([10, 90, 200, 255], dtype=np.uint8)  # a colour of this sprite the palette lacks
    before[4:8, 4:8] = new_colour
    noisy = np.clip(outlined(before).astype(int) + np.random.default_rng(0).integers(-25, 25, before.shape), 0, 255)
    how = Finish([*SPRITE.tolist(), OUTLINE.tolist()], keeps_input=True, alpha=True)
    assert (finish(noisy.astype(np.uint8), [before], how) == outlined(before)).all()


def test_the_artist_can_force_each_aspect_on_or_off():
    examples = [(outlined(sprite(seed)), [sprite(seed)]) for seed in range(2)]
    forced = judge(examples, {"palette": "off", "alpha": "off", "paper": "on"})
    assert forced.palette == [] and not forced.alpha and forced.paper
    assert judge([(photo(0), [photo(1)])], {"palette": "on", "alpha": "on"}).palette


def test_validation_chooses_how_a_palette_is_picked_and_never_drops_what_the_afters_show():
    ink = Finish([[0, 0, 0, 255], [255, 255, 255, 255]], alpha=True, opaque=True, paper=128)
    tried = candidates(ink, can_pick=True)
    assert [(how.picks, how.sure) for how in tried] == [(True, 0.0), (True, SURE), (False, 0.0)]
    assert all(how.palette and how.paper for how in tried)
    assert "picked by the network" in tried[0].describe() and "sure, else snapped" in tried[1].describe()
    assert candidates(ink) == [ink], "a network with no picking head: the snap is the only way"
    greys = Finish([], alpha=True, opaque=True, paper=200)
    assert candidates(greys, can_pick=True) == [greys], "no palette: nothing to pick, the paper line stays"


def test_the_network_picks_only_where_it_scores_no_worse_than_the_snap():
    best, worse = {"psnr": 20.0, "ssim": 0.95}, {"psnr": 19.0, "ssim": 0.9}
    assert kept([best, worse]) == 0
    assert kept([worse, best]) == 1
    assert kept([{"psnr": 21.0, "ssim": 0.9}, best]) == 1, "better PSNR but worse SSIM: the snap"


def test_a_manifest_from_elsewhere_cannot_name_an_endless_or_impossible_palette():
    sent = Finish.from_dict({"palette": [[300, -5, 0, 255]] * 10_000 + [[1, 2]], "alpha": True, "sure": 7})
    assert sent.sure == 1.0 and Finish.from_dict({"picks": True, "sure": -3}).sure == 0.0
    assert len(sent.palette) == 64 and sent.palette[0] == [255, 0, 0, 255]


def test_an_unknown_finish_setting_is_refused_in_one_sentence(shop, small_task):
    with pytest.raises(BadInput, match="'sometimes' is not a setting for the palette; use auto, on, off."):
        set_finish(shop, small_task, {"palette": "sometimes"})
    set_finish(shop, small_task, {"alpha": "off"})
    assert shop.task(small_task).config["finish"] == {"palette": "auto", "alpha": "off", "paper": "auto"}


def test_an_indexed_output_keeps_its_input_palette_round_trip(tmp_path: Path):
    source = Image.fromarray(sprite(2)).convert("RGB").quantize(colors=8)
    source.info["transparency"] = 0
    again = indexed_like(np.asarray(source.convert("RGBA")), source)
    assert again is not None and again.mode == "P"
    assert (palette_colours(again)[: len(palette_colours(source))] == palette_colours(source)).all()
    again.save(tmp_path / "out.png")
    assert (np.asarray(Image.open(tmp_path / "out.png").convert("RGBA")) == np.asarray(source.convert("RGBA"))).all()
    assert indexed_like(photo(0), source) is None  # too many colours for one palette: written as RGBA


def write_sprite_pairs(folder: Path, count: int, indexed: bool = False) -> Path:
    for role in ("before", "after"):
        (folder / role).mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        before, after = sprite(seed), outlined(sprite(seed))
        Image.fromarray(before).save(folder / "before" / f"s{seed}.png")
        Image.fromarray(after).save(folder / "after" / f"s{seed}.png")
    return folder


def trained_outline(shop, tmp_path: Path):
    """An apprentice of a small network trained briefly on four outlined sprites (task 'outline')."""
    config = get_kind("paired").default_config()
    config["net"] |= {"width": 8, "deep_width": 16, "blocks": 1}
    shop.new_task("outline", "paired", config)
    add_examples(shop, "outline", [write_sprite_pairs(tmp_path / "pairs", 4)])
    return train(shop, "outline", Budget(steps=10), FAST)


def test_training_on_pixel_art_outputs_only_palette_colours_and_hard_alpha(shop, tmp_path):
    made = trained_outline(shop, tmp_path)
    recorded = Finish.from_dict(made.manifest["output"]["finish"])
    assert recorded.alpha and recorded.keeps_input and len(recorded.palette) == 5
    (tmp_path / "new").mkdir()
    page = sprite(9)
    Image.fromarray(page).save(tmp_path / "new" / "plain.png")
    Image.fromarray(page).convert("RGB").quantize(colors=4).save(tmp_path / "new" / "indexed.png")
    Image.fromarray(page).convert("RGB").quantize(colors=4).save(tmp_path / "new" / "indexed.gif")
    apply(shop, "outline", [tmp_path / "new"], tmp_path / "out")
    out = np.asarray(Image.open(tmp_path / "out" / "plain.png").convert("RGBA")).reshape(-1, 4)
    allowed = {tuple(c) for c in recorded.palette} | {tuple(c) for c in page.reshape(-1, 4)}
    assert {tuple(c) for c in out.tolist()} <= allowed
    assert set(np.unique(out[:, 3]).tolist()) <= {0, 255}
    for name in ("indexed.png", "indexed.gif"):
        written, given = Image.open(tmp_path / "out" / name), Image.open(tmp_path / "new" / name)
        assert written.mode == "P" and written.getpalette()[:12] == given.getpalette()[:12]


def test_the_override_is_set_from_the_command_line_and_shown_on_the_card(home, tmp_path):
    def run(*args) -> str:
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    run("init", "--name", "Ada")
    run("task", "new", "outline", "--palette", "off")
    assert json.loads(run("task", "set", "outline", "--alpha", "on", "--json"))["config"]["finish"] == {
        "palette": "off",
        "alpha": "on",
        "paper": "auto",
    }
    run("add", "outline", write_sprite_pairs(tmp_path / "pairs", 3))
    manifest = json.loads(run("train", "outline", "--steps", "2", "--json"))
    assert manifest["output"]["finish"]["palette"] == [] and manifest["output"]["finish"]["alpha"]
    assert "finishes with continuous colour, hard alpha" in run("show", "outline")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_page_sets_the_finish_on_a_task_and_refuses_unknown_settings(home):
    import httpx

    from apprentice.web.app import create_app

    app = create_app(home)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        made = await client.post("/api/tasks", json={"name": "sprites", "finish": {"palette": "on"}})
        assert made.status_code == 201, made.text
        assert made.json()["config"]["finish"] == {"palette": "on", "alpha": "auto", "paper": "auto"}
        changed = await client.put("/api/tasks/sprites/finish", json={"alpha": "off"})
        assert changed.json()["config"]["finish"] == {"palette": "on", "alpha": "off", "paper": "auto"}
        assert (await client.put("/api/tasks/sprites/finish", json={"paper": "maybe"})).status_code == 400
        refused = await client.post("/api/tasks", json={"name": "other", "finish": {"ink": "on"}})
        assert refused.status_code == 400 and "'ink' is not part of a task's finish" in refused.text


def test_in_betweens_of_flat_transparent_frames_use_the_keys_colours_and_hard_alpha(shop, tmp_path):
    config = get_kind("inbetween").default_config()
    config["net"] |= {"width": 8, "mid_width": 8, "deep_width": 8, "blocks": 1}
    config["finish"] = {"palette": "on"}  # 4 steps draw too roughly for the judged palette to win on its own
    shop.new_task("tween", "inbetween", config)
    (tmp_path / "run").mkdir()
    for number, x in enumerate(range(2, 26, 3), start=1):
        ball(x, transparent=True).save(tmp_path / "run" / f"frame{number}.png")
    add_examples(shop, "tween", [tmp_path / "run"])
    made = train(shop, "tween", Budget(steps=4), TrainConfig(patch=32, batch=2, validate_every=2))
    assert made.manifest["output"]["finish"]["alpha"] and made.manifest["output"]["finish"]["palette"]
    (tmp_path / "keys").mkdir()
    keys = [np.asarray(ball(x, transparent=True)) for x in (2, 20)]
    for number, key in enumerate(keys):
        Image.fromarray(key).save(tmp_path / "keys" / f"k{number}.png")
    apply(shop, "tween", [tmp_path / "keys"], tmp_path / "out")
    drawn = np.asarray(Image.open(tmp_path / "out" / "keys-0002.png").convert("RGBA")).reshape(-1, 4)
    allowed = {tuple(c) for c in made.manifest["output"]["finish"]["palette"]}
    allowed |= {tuple(c) for key in keys for c in np.where(key[..., 3:] == 0, 0, key).reshape(-1, 4).tolist()}
    assert {tuple(c) for c in drawn.tolist()} <= allowed and set(np.unique(drawn[:, 3]).tolist()) <= {0, 255}


def picking_net(palette: list[list[int]]):
    import torch

    from apprentice.kinds.network import NetConfig, PairedNet, add_picker

    torch.manual_seed(0)
    net = PairedNet(NetConfig(width=8, deep_width=16, blocks=1))
    assert add_picker(net, palette)
    return net


def test_each_pixel_is_taught_its_palette_colour_else_keeping_its_input_else_nothing():
    import torch

    from apprentice.formats.images import premultiply
    from apprentice.kinds.network import IGNORED

    palette = [[30, 20, 40, 255], [200, 40, 40, 255]]
    net = picking_net(palette)
    before = np.array([[[0, 0, 0, 0], [9, 9, 9, 255], [9, 9, 9, 255], [0, 0, 0, 0]]], dtype=np.uint8)
    after = np.array([[[30, 20, 40, 255], [9, 9, 9, 255], [200, 40, 40, 255], [77, 77, 77, 255]]], dtype=np.uint8)
    as_tensor = lambda image: torch.from_numpy(premultiply(image)).permute(2, 0, 1)[None]  # noqa: E731
    right = net.choices(as_tensor(before), as_tensor(after))
    assert right.tolist() == [[[1, 0, 2, IGNORED]]]


def test_a_network_that_picks_draws_only_palette_colours_or_its_inputs_own_pixel():
    import torch

    from apprentice.kinds.tiling import transform

    palette = [[30, 20, 40, 255], [200, 40, 40, 255], [0, 0, 0, 0]]
    net = picking_net(palette)
    with torch.no_grad():  # scores that favour every choice somewhere, as a trained head's would
        net.picker.weight.normal_(0, 1.0)
    page = sprite(3)
    out = transform(net.eval(), page, net.margin).reshape(-1, 4)
    picks = {tuple(c) for c in out.tolist()}
    allowed = {tuple(c) for c in palette}
    kept = [tuple(c) == tuple(p) for c, p in zip(out.tolist(), page.reshape(-1, 4).tolist(), strict=True)]
    assert all(pick in allowed or same for pick, same in zip(map(tuple, out.tolist()), kept, strict=True))
    assert picks & allowed and any(kept) and not all(kept)
    net.picking = False
    drawn = {tuple(c) for c in transform(net, page, net.margin).reshape(-1, 4).tolist()}
    assert not drawn <= allowed | {tuple(c) for c in page.reshape(-1, 4).tolist()}  # drawn freely: any colour


def test_a_network_picking_where_it_is_sure_keeps_its_drawing_where_it_is_not():
    import torch

    net = picking_net([[30, 20, 40, 255], [200, 40, 40, 255], [0, 0, 0, 0]]).eval()
    with torch.no_grad():
        net.picker.weight.normal_(0, 1.0)
        page = torch.from_numpy(sprite(3)).permute(2, 0, 1)[None].float() / 255
        drawn, scores = net.both(page)
        chance = scores.softmax(dim=1).amax(dim=1, keepdim=True)
        sure = chance >= chance.median()
        net.sure = 0.0
        picked = net(page)
        net.sure = float(chance.median())
        mixed = net(page)
    assert sure.any() and not sure.all()
    assert torch.equal(mixed, torch.where(sure, picked, drawn)) and not torch.equal(picked, drawn)


@pytest.mark.parametrize("width", [8, 0])
def test_each_pixel_picks_the_best_of_its_scores_at_full_resolution(width):
    """The choice is made before the pixel shuffle (cheaper); it must be the one the full-resolution scores name."""
    import torch

    from apprentice.kinds.network import NetConfig, PairedNet, add_picker

    torch.manual_seed(1)
    net = PairedNet(NetConfig(width=width, deep_width=16, blocks=1))
    palette = [[30, 20, 40, 255], [200, 40, 40, 255], [0, 0, 0, 0], [250, 250, 250, 255]]
    assert add_picker(net, palette)
    with torch.no_grad():
        net.picker.weight.normal_(0, 1.0)
        page = torch.from_numpy(sprite(3)).permute(2, 0, 1)[None].float() / 255
        _, scores = net.eval().both(page)
        choice = scores.argmax(dim=1, keepdim=True)
        colours = net.colours()[(choice[:, 0] - 1).clamp(min=0)].permute(0, 3, 1, 2)
        expected = torch.where(choice == 0, page, colours)
        assert len(choice.unique()) == len(palette) + 1  # every choice wins somewhere
        assert torch.equal(net(page), expected)


def test_a_manifest_that_says_the_network_picks_must_come_with_weights_that_do(shop, tmp_path):
    from dataclasses import replace

    from apprentice.provenance.manifest import load_network

    made = trained_outline(shop, tmp_path)
    how = Finish.from_dict(made.manifest["output"]["finish"])
    assert load_network(made).picking == how.picks
    claimed = json.loads(json.dumps(made.manifest))
    claimed["output"]["finish"]["picks"] = not how.picks
    with pytest.raises(BadInput, match="does not fit the network its manifest describes"):
        load_network(replace(made, manifest=claimed))
