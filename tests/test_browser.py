"""The web page in a real headless Chromium: an artist's whole loop done with the mouse, and other sites kept out.

Runs the real app with uvicorn on a free port of 127.0.0.1; saves screenshots of the main screens to
$APPRENTICE_SCREENSHOTS (default artifacts/screenshots/).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from apprentice.guild import membership, training
from apprentice.guild import work as guild_work
from apprentice.guild.log import GuildLog
from apprentice.guild.records import decode_invite, record_hash, sign
from apprentice.guild.state import electorate
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.provenance.consent import set_consent
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.web.app import create_app

from conftest import ball, drawing_pair, write_pair_folder
from servers import serving

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("the browser tests need Chromium at /usr/bin/chromium (apt install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need `pip install -e '.[test]'`")

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPOSITORY = Path(__file__).resolve().parents[1]
TRAINING_TIMEOUT_MS = 180_000


@pytest.fixture
def server(home: Path) -> Iterator[str]:
    """The real app on a free port of 127.0.0.1, served from a background thread; its base URL."""
    Workshop.init(home, "Tester").close()
    with serving(create_app(home), lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def playwright() -> Iterator[sync_api.Playwright]:
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: sync_api.Playwright) -> Iterator[sync_api.Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: sync_api.Browser) -> Iterator[sync_api.Page]:
    """A laptop-sized page that fails the test on any uncaught script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def drawings(folder: Path, count: int, size: tuple[int, int] = (64, 64)) -> list[tuple[Path, Path]]:
    """`count` before/after drawings (grey pencil → black ink) saved as p<n>.before.png / p<n>.after.png."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for number in range(count):
        before, after = drawing_pair(number, size)
        pair = folder / f"p{number}.before.png", folder / f"p{number}.after.png"
        before.save(pair[0])
        after.save(pair[1])
        pairs.append(pair)
    return pairs


def shoot(page: sync_api.Page, name: str, target: sync_api.Locator | None = None, full_page: bool = False) -> None:
    """Save a screenshot to $APPRENTICE_SCREENSHOTS (default artifacts/screenshots/ in the repository)."""
    folder = Path(os.environ.get("APPRENTICE_SCREENSHOTS") or REPOSITORY / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    if target is None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
    else:
        target.screenshot(path=str(folder / f"{name}.png"))


def images_loaded(page: sync_api.Page, selector: str) -> bool:
    return page.eval_on_selector_all(selector, "images => images.length > 0 && images.every(i => i.naturalWidth > 0)")


def create_task(page: sync_api.Page, name: str) -> None:
    page.fill("#new-task-name", name)
    page.select_option("#new-task-augment", "mirror+rotate")
    shoot(page, "1-task-list-and-new-task")
    page.click("#new-task-submit")
    sync_api.expect(page.locator("#task-title")).to_have_text(name)
    sync_api.expect(page.locator(f"[data-testid=task-item][data-name='{name}']")).to_be_visible()


def add_pairs(page: sync_api.Page, pairs: list[tuple[Path, Path]]) -> None:
    """Two pairs through the drop zone's picker (named X.before / X.after), the third through the two pickers."""
    page.set_input_files("#pairs-input", [str(path) for pair in pairs[:2] for path in pair])
    sync_api.expect(page.locator("[data-testid=pair]")).to_have_count(2)
    loose = pairs[2][0].with_name("third-before.png"), pairs[2][1].with_name("third-after.png")
    for source, copy in zip(pairs[2], loose, strict=True):
        copy.write_bytes(source.read_bytes())
    page.set_input_files("#before-input", str(loose[0]))
    page.set_input_files("#after-input", str(loose[1]))
    page.click("#add-pairs")
    sync_api.expect(page.locator("[data-testid=pair]")).to_have_count(3)
    page.wait_for_function("[...document.querySelectorAll('#pairs img')].every(i => i.complete && i.naturalWidth > 0)")
    shoot(page, "2-pairs", page.locator("#examples-panel"))


def refuse_bad_files(page: sync_api.Page, folder: Path) -> None:
    """A lone drawing is explained on the page; a pair of different sizes gets the workshop's sentence, beside it."""
    lone, before, after = folder / "sketch.png", folder / "odd.before.png", folder / "odd.after.png"
    Image.new("RGB", (64, 64), "white").save(lone)
    Image.new("RGB", (64, 64), "white").save(before)
    Image.new("RGB", (32, 48), "white").save(after)
    page.set_input_files("#pairs-input", str(lone))
    sync_api.expect(page.locator("#pairs-error")).to_contain_text("sketch.png")
    page.set_input_files("#pairs-input", [str(before), str(after)])
    sync_api.expect(page.locator("#pairs-error")).to_contain_text("odd")
    sync_api.expect(page.locator("[data-testid=pair]")).to_have_count(0)


def train_briefly(page: sync_api.Page, steps: int) -> None:
    """Train for `steps`, seeing the preview appear during the run and change (or the run finish) after."""
    page.click("#train-panel summary")
    page.fill("#train-steps", str(steps))
    page.click("#train-start")
    preview = page.locator("#train-preview")
    sync_api.expect(preview).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    first_preview = preview.get_attribute("data-key")
    page.locator("#train-panel").scroll_into_view_if_needed()
    shoot(page, "3-training", page.locator("#train-panel"))
    page.wait_for_function(
        "key => document.querySelector('#train-preview').dataset.key !== key"
        " || document.querySelector('#train-stop').disabled",
        arg=first_preview,
        timeout=TRAINING_TIMEOUT_MS,
    )
    sync_api.expect(page.locator("[data-testid=apprentice-card]")).to_have_count(1, timeout=TRAINING_TIMEOUT_MS)
    sync_api.expect(page.locator("#train-stop")).to_be_disabled()


def choose_finish(page: sync_api.Page, task: str, **settings: str) -> None:
    """Set aspects of the task's finish with its selects; after a reload the page shows what the workshop kept."""
    for aspect, value in settings.items():
        with page.expect_response(lambda response: response.url.endswith(f"/{task}/finish")) as answered:
            page.select_option(f"#task-finish select[data-finish={aspect}]", value)
        assert answered.value.ok
    page.reload()
    page.click(f"[data-testid=task-item][data-name='{task}']")
    sync_api.expect(page.locator("#task-title")).to_have_text(task)
    for aspect, value in settings.items():
        sync_api.expect(page.locator(f"#task-finish select[data-finish={aspect}]")).to_have_value(value)
    untouched = page.locator("#task-finish select[data-finish=alpha]")
    sync_api.expect(untouched).to_have_value("auto")


def test_an_artist_trains_and_applies_an_apprentice_with_the_mouse(
    server: str, page: sync_api.Page, tmp_path: Path
) -> None:
    page.goto(server)
    sync_api.expect(page.locator("#welcome")).to_be_visible()
    create_task(page, "ink")
    refuse_bad_files(page, tmp_path)
    add_pairs(page, drawings(tmp_path / "drawings", 3))

    page.locator("[data-testid=pair]").first.locator("[data-testid=remove-pair]").click()
    sync_api.expect(page.locator("[data-testid=pair]")).to_have_count(2)
    sync_api.expect(page.locator("[data-testid=task-item][data-name=ink]")).to_contain_text("2 examples")

    choose_finish(page, "ink", palette="on", paper="off")
    train_briefly(page, steps=120)
    card = page.locator("[data-testid=apprentice-card]")
    sync_api.expect(card).to_contain_text("Apprentice v1")
    sync_api.expect(card).to_contain_text("Tester")
    sync_api.expect(card).to_contain_text("120 steps")
    sync_api.expect(card).to_contain_text("finishes with palette of")  # forced on: validation may not drop it
    sync_api.expect(card).not_to_contain_text("white paper")
    shoot(page, "5-apprentice-card", card)

    new_drawing = tmp_path / "new-sketch.png"
    drawing_pair(99, (80, 56))[0].save(new_drawing)
    page.set_input_files("#apply-input", str(new_drawing))
    result = page.locator("[data-testid=apply-result]")
    sync_api.expect(result).to_have_count(1, timeout=60_000)
    page.wait_for_function("document.querySelector('.result-output').naturalWidth > 0")
    assert images_loaded(page, ".result img")
    result.scroll_into_view_if_needed()
    shoot(page, "4-apply-results", page.locator("#apply-panel"))

    with page.expect_download() as one:
        result.locator("[data-testid=apply-download]").click()
    with Image.open(one.value.path()) as made:
        assert (made.format, made.size) == ("PNG", (80, 56))
    with page.expect_download() as everything:
        page.click("#apply-zip")
    with zipfile.ZipFile(everything.value.path()) as archive:
        [name] = archive.namelist()
        with Image.open(io.BytesIO(archive.read(name))) as zipped:
            assert zipped.size == (80, 56)
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "6-whole-page", None, full_page=True)


def test_another_site_cannot_change_the_workshop(
    server: str, playwright: sync_api.Playwright, page: sync_api.Page
) -> None:
    api = playwright.request.new_context(base_url=server)
    task = {"name": "mine", "kind": "paired", "augment": "mirror"}
    refused = api.post("/api/tasks", data=task, headers={"Origin": "http://evil.example"})
    assert refused.status == 403
    assert "Cross-origin" in refused.json()["detail"]
    assert api.get("/api/tasks").json() == []
    assert api.post("/api/tasks", data=task, headers={"Origin": server}).status == 201

    # a page from another origin (localhost instead of 127.0.0.1, so Chromium lets it reach the loopback address)
    # posts drawings the way a malicious page would: a simple no-cors request, which browsers send without asking
    other_origin = server.replace("127.0.0.1", "localhost")
    page.goto(other_origin)
    target = f"{server}/api/tasks/mine/examples"
    with page.expect_response(target) as answer:
        page.evaluate(
            """url => {
                const form = new FormData();
                form.append("files", new Blob(["x"], {type: "image/png"}), "a.before.png");
                form.append("files", new Blob(["x"], {type: "image/png"}), "a.after.png");
                return fetch(url, {method: "POST", mode: "no-cors", body: form}).catch(() => null);
            }""",
            target,
        )
    assert answer.value.status == 403
    assert api.get("/api/tasks/mine").json()["examples"] == 0
    api.dispose()


def test_a_member_sees_the_guild_votes_with_a_button_and_sees_who_a_release_learned_from(
    server: str, home: Path, page: sync_api.Page, tmp_path: Path
) -> None:
    shop = Workshop.open(home)
    shop.new_task("ink", "paired", get_kind("paired").default_config())
    add_examples(shop, "ink", [write_pair_folder(tmp_path / "pairs", 3)])
    guild = membership.create(shop, "Ink Co-op", server)
    guild_work.offer(guild, "ink")
    ben = Workshop.init(tmp_path / "ben", "Ben")
    invite = decode_invite(membership.invite(guild))
    join = sign(
        ben.identity, guild.id, 1, "", "join", {"invite": invite, "name": "Ben", "address": "http://127.0.0.1:9"}
    )
    assert guild.take([join], "test").accepted == 1
    body = {"kind": "train", "task": "ink", "task_kind": "paired", "contributors": [shop.member]}
    body |= {"compute": {"member": shop.member, "minutes": 0.02}} | electorate(guild.state)
    proposal = sign(ben.identity, guild.id, 2, record_hash(join), "proposal", body)
    ben_vote = sign(
        ben.identity, guild.id, 3, record_hash(proposal), "vote", {"proposal": record_hash(proposal), "vote": "yes"}
    )
    assert guild.take([proposal, ben_vote], "test").accepted == 2

    page.goto(server)
    page.click("[data-testid=guild-item]")
    view = page.locator("[data-testid=guild-view]")
    sync_api.expect(view.locator("#guild-title")).to_have_text("Ink Co-op")
    sync_api.expect(view.locator("[data-testid=guild-member]")).to_have_count(2)
    card = view.locator("[data-testid=proposal]")
    sync_api.expect(card).to_contain_text("open")
    sync_api.expect(card).to_contain_text("Ben: yes")
    shoot(page, "7-guild-proposal-open")
    card.locator("[data-testid=vote-yes]").click()
    sync_api.expect(card).to_contain_text("passed")
    sync_api.expect(card).to_contain_text("You voted yes")

    [released] = training.train_pledged(GuildLog(shop, guild.id))
    page.reload()
    release = page.locator("[data-testid=release]")
    sync_api.expect(release).to_contain_text(released["body"]["apprentice"])
    sync_api.expect(release.locator("[data-testid=contributor]")).to_have_text([re.compile(r"Tester: 3 examples")])
    guild_work.consent_changed(
        shop, [c.work for c in set_consent(shop, [str(tmp_path / "pairs" / "after" / "p0.png")], "withdrawn")]
    )
    page.reload()
    sync_api.expect(release.locator("[data-testid=release-tainted]")).to_be_visible()
    sync_api.expect(page.locator("[data-testid=proposal]").first).to_contain_text("Retrain: withdrawn")
    shoot(page, "8-guild-release-tainted", None, full_page=True)
    shop.close()


def test_an_animator_charts_the_in_betweens_and_gets_the_shot_back_as_an_animated_png(
    server: str, home: Path, page: sync_api.Page, tmp_path: Path
) -> None:
    shop = Workshop.open(home)
    config = get_kind("inbetween").default_config()
    config["net"] |= {"width": 8, "mid_width": 8, "deep_width": 8, "blocks": 1}
    shop.new_task("tween", "inbetween", config)
    walk = tmp_path / "walk"
    walk.mkdir()
    for number in range(6):
        ball(2 + 5 * number).save(walk / f"frame{number}.png")
    add_examples(shop, "tween", [walk])
    train(shop, "tween", Budget(steps=3), TrainConfig(patch=32, batch=2, validate_every=2))
    keys = [tmp_path / "a.png", tmp_path / "b.png"]
    ball(2).save(keys[0])
    ball(26).save(keys[1])

    page.goto(server)
    page.click("[data-testid=task-item][data-name=tween]")
    sync_api.expect(page.locator("[data-testid=apply-shot]")).to_be_visible()
    page.select_option("[data-testid=apply-between]", "3")
    page.set_input_files("#apply-input", [str(key) for key in keys])
    sync_api.expect(page.locator("[data-testid=apply-result]")).to_have_count(3, timeout=60_000)
    sync_api.expect(page.locator("[data-testid=apply-animation]")).to_be_visible()
    sync_api.expect(page.locator("#apply-status")).to_have_text("Done: 3 in-betweens.")
    page.wait_for_function("document.querySelector('#apply-animation-image').naturalWidth > 0")
    with page.expect_download() as animated:
        page.click("[data-testid=apply-apng]")
    with Image.open(animated.value.path()) as shot:
        assert (shot.format, shot.size, shot.n_frames) == ("PNG", (48, 32), 5)  # key, three in-betweens, key
    page.locator("#apply-panel").scroll_into_view_if_needed()
    shoot(page, "7-inbetween-shot", page.locator("#apply-panel"))

    page.fill("[data-testid=apply-timing]", "ease-out 2")
    page.set_input_files("#apply-input", [str(key) for key in keys])
    sync_api.expect(page.locator("[data-testid=apply-result]")).to_have_count(2, timeout=60_000)
    page.fill("[data-testid=apply-timing]", "3/4,1/4")
    page.set_input_files("#apply-input", [str(key) for key in keys])
    sync_api.expect(page.locator("#apply-error")).to_have_text(
        "The positions in '3/4,1/4' do not rise from the first key to the second; write them in order."
    )
