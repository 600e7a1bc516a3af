"""Distillation: a trained apprentice teaches a cheaper student, published only within 0.2 dB of it on held-out work."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apprentice.cli import main
from apprentice.errors import BadInput, Withdrawn
from apprentice.formats.images import premultiply, unpremultiply
from apprentice.imports import add_examples
from apprentice.jobs import apply_files
from apprentice.kinds.network import NetConfig
from apprentice.kinds.paired import PairedKind
from apprentice.kinds.tiling import transform
from apprentice.provenance.consent import set_consent
from apprentice.provenance.credentials import check
from apprentice.provenance.manifest import MANIFEST, apprentices, find, load_network
from apprentice.train import distil
from apprentice.train.distil import STUDENT_STEPS, TEACHING, student_budget, train_and_distil
from apprentice.train.loop import Budget, TrainConfig, prepare, train
from apprentice.views import apprentice_cards, distilled_text

from conftest import write_pair_folder

TINY = TrainConfig(patch=8, batch=4, validate_every=5)
STUDENT = NetConfig(width=4, deep_width=8, blocks=1, link=1).to_dict()  # about a quarter of small_task's network


@pytest.fixture
def pairs(shop, small_task, tmp_path, monkeypatch):
    monkeypatch.setattr(PairedKind, "student", STUDENT)
    folder = write_pair_folder(tmp_path / "pairs", 4)
    add_examples(shop, small_task, [folder])
    return folder


def test_a_student_within_the_guard_is_published_and_apply_uses_it(shop, small_task, pairs, tmp_path, monkeypatch):
    monkeypatch.setattr(distil, "MAX_LOSS_DB", float("inf"))  # whatever it scores, it is close enough
    made = train_and_distil(shop, small_task, Budget(steps=10), Budget(steps=10), TINY)
    teacher = find(shop, small_task, made.manifest["lineage"]["successor_of"])
    assert made.id != teacher.id and find(shop, small_task).id == made.id, "the student is the newest: apply's choice"
    assert made.manifest["task_config"]["net"] == STUDENT and teacher.manifest["task_config"]["net"]["width"] == 8
    assert made.manifest["lineage"]["because"].startswith("distilled")
    facts = made.manifest["metrics"]["distilled"]
    assert facts["teacher"] == teacher.id and facts["saving"] >= 2.0
    assert facts["student_psnr"] == made.manifest["metrics"]["best"]["psnr"]
    assert made.manifest["examples"] == teacher.manifest["examples"], "the same examples, held out the same way"
    assert made.manifest["owners"] == teacher.manifest["owners"]
    assert load_network(made).config.width == 4
    assert "apply uses it" in made.note
    (tmp_path / "new").mkdir()
    Image.new("RGB", (40, 30), "white").save(tmp_path / "new" / "a.png")
    apply_files(shop, small_task, [tmp_path / "new"], tmp_path / "out")
    credentials = check(shop, tmp_path / "out" / "a.png")
    assert credentials["passed"] and credentials["claims"]["id"] == made.id
    card = apprentice_cards(shop, small_task)[0]
    assert "multiply-adds" in card["distilled"] and teacher.label() in card["distilled"]
    assert apprentice_cards(shop, small_task)[1]["distilled"] == ""


def test_a_student_that_loses_more_than_the_guard_is_not_published(shop, small_task, pairs, monkeypatch):
    monkeypatch.setattr(distil, "MAX_LOSS_DB", float("-inf"))  # no student is ever close enough
    made = train_and_distil(shop, small_task, Budget(steps=10), Budget(steps=10), TINY)
    assert [row["id"] for row in apprentices(shop)] == [made.id], "only the teacher was published"
    assert "so apply keeps using" in made.note and made.manifest["task_config"]["net"]["width"] == 8


def test_a_second_run_that_finds_nothing_better_keeps_the_student(shop, small_task, pairs, monkeypatch):
    monkeypatch.setattr(distil, "MAX_LOSS_DB", float("inf"))
    first = train_and_distil(shop, small_task, Budget(steps=10), Budget(steps=10), TINY)
    again = train_and_distil(shop, small_task, Budget(steps=10), Budget(steps=10), TINY)
    assert again.id == first.id and len(apprentices(shop)) == 2


def test_a_teacher_as_cheap_as_its_student_teaches_none(shop, small_task, pairs, monkeypatch):
    monkeypatch.setattr(PairedKind, "student", NetConfig(width=8, deep_width=16, blocks=1).to_dict())
    made = train_and_distil(shop, small_task, Budget(steps=5), Budget(steps=10), TINY)
    assert len(apprentices(shop)) == 1 and "already about as cheap" in made.note


def test_the_student_learns_what_the_teacher_draws_on_whole_examples_as_apply_draws_them(shop, small_task, pairs):
    """A patch's targets are cut from the teacher's drawing of the whole example, so at a patch's edge they are what
    apply draws there (with the context beyond the edge), not what the teacher makes of the patch alone."""
    teacher = train(shop, small_task, Budget(steps=10), TINY)
    run = prepare(shop, small_task, TINY, fresh=False)
    net = load_network(teacher)
    drawings = []
    for inputs, _ in run.sampler.examples:
        drawn = premultiply(transform(net, unpremultiply(inputs), net.margin))
        drawings += [np.rot90(turned, k, axes=(0, 1)) for turned in (drawn, drawn[:, ::-1]) for k in range(4)]
    _, targets = distil.labelled(run.sampler, net).draw(run.config.seed, 1)
    patch = TINY.patch
    for target in targets.permute(0, 2, 3, 1).numpy():
        found = any(
            np.allclose(drawing[y : y + patch, x : x + patch], target, atol=1e-6)
            for drawing in drawings
            for y in range(drawing.shape[0] - patch + 1)
            for x in range(drawing.shape[1] - patch + 1)
        )
        assert found, "every target is a piece of the teacher's whole drawing"


@pytest.mark.parametrize(
    ("minutes", "steps", "student_minutes", "budget"),
    [
        (None, None, None, Budget(steps=STUDENT_STEPS, minutes=5.0)),  # the default run: the same lesson everywhere
        (2.0, None, None, Budget(steps=STUDENT_STEPS, minutes=2.0)),  # never longer than its teacher trained
        (0.2, None, None, Budget(steps=STUDENT_STEPS, minutes=1.0)),  # …but at least a minute
        (60.0, None, None, Budget(steps=STUDENT_STEPS, minutes=10.0)),  # …and at most ten
        (None, 300, None, None),  # a run counted in steps teaches none unless asked
        (None, 300, 0.5, Budget(minutes=0.5)),  # asked: that long
        (5.0, None, 0, None),  # asked for none
    ],
)
def test_the_student_learns_a_fixed_number_of_steps_within_its_teachers_minutes(
    minutes, steps, student_minutes, budget
):
    assert student_budget(minutes, steps, student_minutes) == budget


def test_without_a_student_budget_nothing_is_distilled(shop, small_task, pairs):
    train_and_distil(shop, small_task, Budget(steps=5), None, TINY)
    assert len(apprentices(shop)) == 1


def test_a_work_withdrawn_while_the_student_learns_stops_it_and_no_student_is_published(
    shop, small_task, pairs, monkeypatch
):
    monkeypatch.setattr(distil, "MAX_LOSS_DB", float("inf"))

    def withdraw_while_teaching(progress):
        if progress.note == TEACHING and progress.step == 3:
            set_consent(shop, [str(pairs / "after" / "p1.png")], "withdrawn")

    with pytest.raises(Withdrawn, match="withdrawn while 'ink' was training"):
        train_and_distil(shop, small_task, Budget(steps=5), Budget(steps=20), TINY, on_progress=withdraw_while_teaching)
    rows = apprentices(shop)
    assert len(rows) == 1, "the teacher, published before, is all there is"
    assert rows[0]["tainted_by"], "and the withdrawal taints it, as any apprentice that learned from the work"


def test_a_manifest_naming_a_network_far_larger_than_apprentice_builds_is_refused(shop, small_task, pairs):
    made = train_and_distil(shop, small_task, Budget(steps=3), None, TINY)
    manifest = json.loads((made.folder / MANIFEST).read_text())
    manifest["task_config"]["net"] |= {"width": 10**6, "deep_width": 10**6}  # gigabytes before any weight is read
    (made.folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="not one Apprentice builds"):
        load_network(find(shop, small_task))
    with pytest.raises(BadInput, match="not one Apprentice builds"):
        NetConfig(link=5)
    manifest["task_config"]["net"] = {"wings": 2}  # a setting no version of the network has
    (made.folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="names a network this version cannot build"):
        load_network(find(shop, small_task))


def test_the_cli_teaches_a_student_and_says_which_apprentice_apply_uses(shop, small_task, pairs, monkeypatch):
    monkeypatch.setattr(distil, "MAX_LOSS_DB", float("inf"))
    result = CliRunner().invoke(main, ["train", small_task, "--steps", "5", "--student-minutes", "0.02"])
    assert result.exit_code == 0, result.output
    assert "apply uses it" in result.output and "ink #2" in result.output
    assert find(shop, small_task).manifest["task_config"]["net"] == STUDENT
    shown = CliRunner().invoke(main, ["show", small_task])
    assert "newest is a student of ink #1" in shown.output and "multiply-adds" in shown.output


@pytest.mark.parametrize("facts", [None, "yes", {"teacher": "a"}, {"teacher": "a", "saving": "many", "loss_db": 0.1}])
def test_a_card_reads_another_members_odd_distillation_facts_as_nothing(facts):
    assert distilled_text({"metrics": {"distilled": facts}}, {}) == ""


def test_a_card_says_whether_the_student_is_above_or_below_its_teacher():
    facts = {"teacher": "0123456789abcdef", "saving": 3.6, "loss_db": -0.03}
    labels = {"0123456789abcdef": "ink #1 (0123456789abcdef)"}
    above = distilled_text({"metrics": {"distilled": facts}}, labels)
    assert "0.03 dB above it on" in above and "within" not in above, "a student above its teacher is not 'within'"
    below = distilled_text({"metrics": {"distilled": facts | {"loss_db": 0.12}}}, labels)
    assert "0.12 dB below it (within 0.2 dB)" in below


def test_a_card_never_prints_a_members_free_text_as_a_teacher():
    facts = {"teacher": "\x1b[2J you were hacked", "saving": 3.6, "loss_db": 0.1}
    assert distilled_text({"metrics": {"distilled": facts}}, {}) == ""
