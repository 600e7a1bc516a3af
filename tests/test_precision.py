"""Applying in bfloat16 or 8-bit integers: only where it measures faster and the apprentice's held-out guard allows it
(bfloat16: only where the CPU has it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from apprentice import calibration
from apprentice.formats.images import premultiply
from apprentice.imports import add_examples
from apprentice.jobs import apply
from apprentice.kinds import ApplyOptions
from apprentice.kinds.finish import Finish
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet
from apprentice.kinds.network import NetConfig, PairedNet
from apprentice.kinds.precision import BF16, FP32, INT8, Guard, choose, cpu_flags, guards, in_bf16, native_bf16, runner
from apprentice.kinds.quantized import FORM, PAD, Int8Net, SplitFuse, Tails, Trunk, distance, in_int8, measure_ranges
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import find, load_network
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.metrics import image_scores
from apprentice.train.precision import measure_guards
from apprentice.views import apprentice_cards

from conftest import write_pair_folder

ZEN4 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
ZEN3 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma\n"
SAPPHIRE_RAPIDS = "flags\t\t: avx2 avx512f amx_tile amx_bf16 amx_int8\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd sve\n"


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(ZEN4, True), (SAPPHIRE_RAPIDS, True), (ZEN3, False), (ARM, False), ("", False)]
)
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo, native):
    assert native_bf16(cpu_flags(cpuinfo)) is native


def test_flags_are_the_first_processors_words():
    assert cpu_flags(ZEN3) == {"fpu", "sse2", "avx2", "fma"}
    assert cpu_flags(ARM) == {"fp", "asimd", "sve"}


KEEPS = Guard(BF16, 30.0, 29.9)  # loses 0.1 dB
LOSES = Guard(BF16, 30.0, 29.7)  # loses 0.3 dB
FAST, SLOW, TIED = {FP32: 2.0, BF16: 8.0}, {FP32: 2.0, BF16: 0.3}, {FP32: 2.0, BF16: 2.1}
INT8_KEEPS, INT8_LOSES = Guard(INT8, 30.0, 29.85), Guard(INT8, 30.0, 29.5)


@pytest.mark.parametrize(
    ("asked", "native", "guard", "speeds", "chosen"),
    [
        ("auto", True, KEEPS, FAST, BF16),  # native, allowed, measured faster
        ("auto", True, KEEPS, SLOW, FP32),  # native but measured slower
        ("auto", True, KEEPS, TIED, FP32),  # within 10 %: not worth the rounding
        ("auto", False, KEEPS, FAST, FP32),  # emulated: never by itself
        ("auto", True, LOSES, FAST, FP32),  # loses more than 0.2 dB: never
        ("auto", True, None, FAST, FP32),  # never measured (an older apprentice): never
        ("auto", True, KEEPS, None, FP32),  # not calibrated
        ("bf16", False, KEEPS, None, BF16),  # asked for by name, and allowed
        ("bf16", True, LOSES, FAST, FP32),  # asked for by name, but it loses quality: refused
        ("fp32", True, KEEPS, FAST, FP32),
    ],
)
def test_choice_of_precision(asked, native, guard, speeds, chosen):
    assert choose(asked, native, {BF16: guard} if guard else {}, speeds) == chosen


BOTH_FAST = {FP32: 2.0, BF16: 8.0, INT8: 4.0}


@pytest.mark.parametrize(
    ("asked", "native", "recorded", "speeds", "chosen"),
    [
        ("auto", False, [INT8_KEEPS], BOTH_FAST, INT8),  # no bf16 here: int8, measured faster
        ("auto", True, [KEEPS, INT8_KEEPS], BOTH_FAST, BF16),  # both allowed: the faster one
        ("auto", True, [KEEPS, INT8_KEEPS], {FP32: 2.0, BF16: 3.0, INT8: 5.0}, INT8),
        ("auto", True, [LOSES, INT8_KEEPS], BOTH_FAST, INT8),  # bf16 loses quality: the other one
        ("auto", False, [KEEPS, INT8_LOSES], BOTH_FAST, FP32),  # bf16 emulated, int8 loses quality
        ("auto", False, [INT8_KEEPS], {FP32: 2.0, INT8: 2.1}, FP32),  # within 10 %
        ("int8", False, [INT8_KEEPS], None, INT8),  # asked for by name
        ("int8", False, [INT8_LOSES], None, FP32),  # asked for by name, but it loses quality
        ("int8", True, [KEEPS], BOTH_FAST, FP32),  # never measured for int8 (an older apprentice)
    ],
)
def test_choice_between_faster_precisions(asked, native, recorded, speeds, chosen):
    assert choose(asked, native, {guard.precision: guard for guard in recorded}, speeds) == chosen


def test_guard_allows_at_most_two_tenths_of_a_decibel():
    assert KEEPS.allowed and not LOSES.allowed and Guard(BF16, 30.0, 29.8).allowed
    assert Guard(BF16, 30.0, 30.4).loss_db == 0.0  # bf16 scoring better loses nothing
    assert Guard.from_dict(LOSES.to_dict(), BF16) == LOSES and not LOSES.to_dict()["bf16_allowed"]
    assert Guard.from_dict(INT8_KEEPS.to_dict(), INT8) == INT8_KEEPS and INT8_KEEPS.to_dict()["int8_allowed"]
    assert Guard.from_dict(INT8_KEEPS.to_dict(), BF16) is None  # one precision's guard is never read as another's
    assert guards({"bf16": KEEPS.to_dict(), "int8": INT8_LOSES.to_dict()}) == {BF16: KEEPS, INT8: INT8_LOSES}


@pytest.mark.parametrize(
    "recorded",
    [None, {}, [30, 29], {"fp32_psnr": "30", "bf16_psnr": 29}, {"fp32_psnr": True, "bf16_psnr": 1}],
)
def test_a_manifest_without_a_sound_guard_applies_in_fp32(recorded):
    assert Guard.from_dict(recorded, BF16) is None
    assert choose("auto", True, guards({"bf16": recorded, "int8": recorded}), FAST | BOTH_FAST) == FP32


def random_paired(seed: int = 0) -> PairedNet:
    torch.manual_seed(seed)
    net = PairedNet(NetConfig(width=8, deep_width=16, blocks=1))
    torch.nn.init.normal_(net.head.weight, std=0.05)
    return net.eval()


def over_white_psnr(a: np.ndarray, b: np.ndarray) -> float:
    return image_scores(premultiply(a), premultiply(b))["psnr"]


@pytest.mark.parametrize("net", [random_paired(), InbetweenNet(InbetweenConfig(width=8, mid_width=8, deep_width=8))])
def test_bf16_apply_stays_close_to_fp32(net):
    net = net.eval()
    channels = 8 if isinstance(net, InbetweenNet) else 4
    image = np.random.default_rng(1).integers(0, 256, (96, 80, channels), dtype=np.uint8)
    image[..., 3::4] = 255
    fp32, bf16 = (transform(runner(net, p), image, net.margin, tile=64) for p in (FP32, BF16))
    assert next(runner(net, BF16).parameters()).dtype == torch.bfloat16 and fp32.dtype == bf16.dtype == np.uint8
    assert not np.array_equal(fp32, bf16)  # it really ran in bf16
    assert over_white_psnr(fp32, bf16) > 40.0
    assert np.abs(fp32.astype(int) - bf16.astype(int)).mean() < 1.0


@pytest.mark.parametrize(
    "shape",
    [
        NetConfig(width=8, deep_width=8, blocks=1),
        NetConfig(width=8, deep_width=8, blocks=1, link=1),
        NetConfig(width=0, deep_width=8, blocks=1),
    ],  # fmt: skip
)
def test_the_form_apply_runs_is_the_same_function(shape):
    """Folding each pixel-unshuffle into the strided convolution after it changes the passes, not the drawing."""
    torch.manual_seed(0)
    net = PairedNet(shape)
    net.pick_from(torch.tensor([[255, 255, 255, 255], [20, 30, 200, 255]], dtype=torch.uint8))
    for parameter in net.parameters():  # far from initial weights, so that every tap matters
        parameter.data.normal_(0.0, 0.1)
    net.eval()
    x = torch.rand(2, 4, 36, 28)
    applied = runner(net, FP32)
    assert applied.strided and not net.strided and applied.stem.stride == (2 if shape.width else 4,) * 2
    with torch.inference_mode():
        (drawn, scores), (fast_drawn, fast_scores) = net.both(x), applied.both(x)
    assert torch.allclose(drawn, fast_drawn, rtol=1e-4, atol=1e-4)
    assert torch.allclose(scores, fast_scores, rtol=1e-4, atol=1e-4)


def bf16_guard(net, validation) -> Guard:
    recorded, _ = measure_guards(net, validation, Finish(), calibration_images(1))
    return Guard.from_dict(recorded, BF16)


def test_guard_refuses_bf16_where_it_costs_more_than_two_tenths_of_a_decibel():
    """The held-out targets are the fp32 network's own drawings: fp32 scores them perfectly, bf16's rounding cannot."""
    net = random_paired()
    sources = [np.random.default_rng(n).integers(0, 256, (40, 48, 4), dtype=np.uint8) for n in range(2)]
    for source in sources:
        source[..., 3] = 255
    validation = [(premultiply(s), premultiply(transform(net, s, net.margin))) for s in sources]
    guard = bf16_guard(net, validation)
    assert guard.fp32_psnr == 100.0 and guard.loss_db > 0.2 and not guard.allowed


def test_guard_allows_bf16_where_its_rounding_is_lost_in_the_error():
    net = random_paired()
    pairs = [(np.random.default_rng(n).integers(0, 256, (40, 48, 4), dtype=np.uint8), n) for n in range(2)]
    validation = [(premultiply(s), premultiply(np.full_like(s, 255))) for s, _ in pairs]  # white paper wanted
    guard = bf16_guard(net, validation)
    assert guard.loss_db <= 0.2 and guard.allowed


def test_bf16_copy_leaves_the_original_in_fp32():
    net = random_paired()
    copied = in_bf16(net)
    assert next(net.parameters()).dtype == torch.float32 and next(copied.parameters()).dtype == torch.bfloat16


@pytest.fixture
def trained(shop, small_task, tmp_path) -> str:
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 3)])
    train(shop, small_task, Budget(steps=6), TrainConfig(patch=32, batch=4, validate_every=3))
    return small_task


def test_training_records_the_guard_and_the_card_shows_it(shop, trained):
    guard = find(shop, trained).manifest["metrics"]["bf16"]
    assert set(guard) == {"fp32_psnr", "bf16_psnr", "loss_db", "bf16_allowed"}
    assert guard["fp32_psnr"] == pytest.approx(find(shop, trained).manifest["metrics"]["best"]["psnr"], abs=1e-6)
    [card] = apprentice_cards(shop, trained)
    assert Guard.from_dict(guard, BF16).describe() in card["precision"] and "dB" in card["precision"]


def on_a_cpu(monkeypatch, cpuinfo: str, speeds: dict[str, float]) -> list[int]:
    """This machine seen as another CPU, its timing as given; returns a list of the precisions each timing timed."""
    timed: list[tuple[str, ...]] = []

    def measure(net, channels, precisions, ranges):
        assert channels == 4
        timed.append(precisions)
        return {p: speeds[p] for p in precisions}

    monkeypatch.setattr(calibration, "read_cpuinfo", lambda: cpuinfo)
    monkeypatch.setattr(calibration, "measure", measure)
    return timed


def allow(shop, task: str, allowed: bool, int8: bool = False) -> None:
    """Rewrite the apprentice's recorded guards (its manifest hash is not checked by apply)."""
    made = find(shop, task)
    manifest = made.manifest
    manifest["metrics"]["bf16"] = (KEEPS if allowed else LOSES).to_dict()
    manifest["metrics"]["int8"] |= (INT8_KEEPS if int8 else INT8_LOSES).to_dict()
    (made.folder / "manifest.json").write_text(json.dumps(manifest))


def test_calibration_runs_once_per_machine_and_is_kept_in_the_workshop(shop, trained, monkeypatch):
    allow(shop, trained, True)
    timed = on_a_cpu(monkeypatch, ZEN4, FAST)
    net = load_network(find(shop, trained))
    assert calibration.precision_for(shop, find(shop, trained), net) == BF16
    assert calibration.precision_for(shop, find(shop, trained), net) == BF16
    assert timed == [(FP32, BF16)]  # int8's guard refuses it in this apprentice (`allow`)
    [entry] = json.loads((shop.root / calibration.FILE).read_text()).values()
    assert entry[BF16] == 8.0
    on_a_cpu(monkeypatch, ZEN4.replace("AMD EPYC", "Another CPU"), SLOW)  # the workshop moved to another machine
    assert calibration.precision_for(shop, find(shop, trained), net) == FP32
    assert len(json.loads((shop.root / calibration.FILE).read_text())) == 2


def test_apply_respects_a_guard_that_refuses_bf16(shop, trained, monkeypatch, tmp_path):
    allow(shop, trained, False)
    timed = on_a_cpu(monkeypatch, ZEN4, FAST)
    net = load_network(find(shop, trained))
    assert calibration.precision_for(shop, find(shop, trained), net, "bf16") == FP32
    assert calibration.precision_for(shop, find(shop, trained), net) == FP32
    assert timed == [] and not (shop.root / calibration.FILE).exists()


def test_apply_in_bf16_writes_outputs_close_to_fp32(shop, trained, monkeypatch, tmp_path):
    allow(shop, trained, True)
    on_a_cpu(monkeypatch, ZEN3, {})
    write_pair_folder(tmp_path / "new", 2, seed=7, size=(70, 52))
    made = {}
    for precision in (FP32, BF16):
        apply(shop, trained, [tmp_path / "new" / "before"], tmp_path / precision, ApplyOptions(precision=precision))
        made[precision] = np.asarray(Image.open(tmp_path / precision / "p0.png").convert("RGBA"))
    assert over_white_psnr(made[FP32], made[BF16]) > 35.0


def calibration_images(count: int = 3) -> list[torch.Tensor]:
    images = [torch.rand(2, 4, 48, 48) for _ in range(count)]
    for image in images:
        image[:, 3] = 1.0
    return images


def test_int8_apply_stays_close_to_fp32():
    torch.manual_seed(3)
    net = random_paired()
    ranges = measure_ranges(net, calibration_images())
    image = np.random.default_rng(1).integers(0, 256, (96, 80, 4), dtype=np.uint8)
    image[..., 3] = 255
    fast = runner(net, INT8, ranges)
    fp32, int8 = (transform(n, image, net.margin, tile=64) for n in (runner(net, FP32), fast))
    assert isinstance(fast, Int8Net) and int8.dtype == np.uint8
    assert not np.array_equal(fp32, int8)  # it really ran in 8 bits
    assert over_white_psnr(fp32, int8) > 38.0
    assert next(net.parameters()).dtype == torch.float32 and not net.strided  # the original is untouched


@pytest.mark.parametrize(
    "shape", [NetConfig(width=8, deep_width=8, blocks=1), NetConfig(width=0, deep_width=8, blocks=1)]
)
def test_the_trunk_quantized_is_the_same_function_before_rounding(shape):
    """The copy that is quantized reads x itself (its stem absorbs the centring) and joins the half-resolution
    features by two convolutions added instead of one over both: before any rounding, the same drawing."""
    torch.manual_seed(0)
    net = PairedNet(shape)
    for parameter in net.parameters():  # far from initial weights, so that every tap matters
        parameter.data.normal_(0.0, 0.1)
    net.eval()
    trunk = Trunk(net)
    assert isinstance(getattr(trunk.net, "fuse", None), SplitFuse) == bool(shape.width)
    x = torch.rand(2, 4, 36, 28)
    with torch.inference_mode():
        expected, _ = net.trunk(x * 2.0 - 1.0)
        made, _ = trunk(torch.nn.functional.pad(x, (trunk.pad,) * 4, value=PAD))
    assert torch.allclose(expected, made, rtol=1e-4, atol=1e-4)


def test_an_int8_guard_measured_on_another_layout_is_not_used():
    """Ranges are per activation of one layout of the 8-bit network: an apprentice measured on an earlier one
    applies in fp32 (or bf16) until it is trained again."""
    recorded = INT8_KEEPS.to_dict()
    assert recorded["form"] == FORM and guards({"int8": recorded}) == {INT8: INT8_KEEPS}
    for earlier in ({k: v for k, v in recorded.items() if k != "form"}, recorded | {"form": FORM - 1}):
        assert guards({"int8": earlier}) == {}
        assert choose("auto", False, guards({"int8": earlier}), BOTH_FAST) == FP32


def test_an_activation_range_leaves_out_its_rarest_values():
    """A handful of outliers among a million values would widen every value's 8-bit step 500-fold under min/max."""
    batches = [torch.linspace(-1.0, 1.0, 500_000).reshape(2, 4, 250, 250) for _ in range(2)]
    batches[1].view(-1)[:5] = 1000.0
    ranges = []
    for _ in range(2):
        observer = Tails()
        for batch in batches:
            assert observer(batch) is batch
        ranges.append(observer.window(1e-4))
    low, high = ranges[0]
    assert -1.0 <= low < -0.99 and 0.99 < high <= 1.0
    assert ranges[0] == ranges[1]  # the same batches, the same range
    assert observer.window(tail=0.0) == [-1.0, 1000.0]


def test_int8_ranges_lie_within_the_least_and_greatest_activations():
    net, images = random_paired(), calibration_images()
    tails, extremes = measure_ranges(net, images, (1e-3,)), measure_ranges(net, images, (0.0,))
    assert set(tails) == set(extremes)
    assert all(e[0] <= t[0] <= t[1] <= e[1] for t, e in zip(tails.values(), extremes.values(), strict=True))
    assert any(t != e for t, e in zip(tails.values(), extremes.values(), strict=True))


def test_int8_ranges_are_those_whose_drawing_of_the_patches_is_closest_to_fp32():
    torch.manual_seed(5)
    net, images = random_paired(), calibration_images()
    shares = (0.0, 1e-3, 3e-2)
    with torch.inference_mode():
        drawn = [net.eval()(image) for image in images]
    each = [distance(net, measure_ranges(net, images, (share,)), images, drawn) for share in shares]
    assert len(set(each)) == len(shares)  # the candidates differ, so the choice matters
    assert distance(net, measure_ranges(net, images, shares), images, drawn) == min(each)


def test_int8_reads_the_input_on_its_own_grid_and_keeps_the_borders():
    """The stem absorbs the centring, so each uint8 level is one integer step; the padding stays the centred
    network's zero: a flat grey page comes out as fp32 draws it, to the edges."""
    net = random_paired()
    ranges = measure_ranges(net, calibration_images())
    assert ranges["activation_post_process_0"] == [0.0, 1.0]
    page = np.full((64, 64, 4), 255, dtype=np.uint8)
    page[..., :3] = 128
    fp32, int8 = (transform(runner(net, p, ranges), page, net.margin) for p in (FP32, INT8))
    assert np.abs(fp32.astype(int) - int8.astype(int)).max() <= 3


def hostile(ranges: dict, how: str) -> object:
    first = next(iter(ranges))
    changed = {name: list(value) for name, value in ranges.items()}
    if how == "missing":
        del changed[first]
    elif how == "extra":
        changed["activation_post_process_999"] = [0.0, 1.0]
    elif how == "nan":
        changed[first] = [0.0, float("nan")]
    elif how == "infinite":
        changed[first] = [float("-inf"), 1.0]
    elif how == "huge":
        changed[first] = [0.0, 1e30]
    elif how == "reversed":
        changed[first] = [1.0, 0.0]
    elif how == "text":
        changed[first] = ["0", "1"]
    elif how == "booleans":
        changed[first] = [False, True]
    elif how == "three":
        changed[first] = [0.0, 0.5, 1.0]
    elif how == "not a dict":
        return list(changed.values())
    return changed


@pytest.mark.parametrize(
    "how", ["missing", "extra", "nan", "infinite", "huge", "reversed", "text", "booleans", "three", "not a dict"]
)
def test_ranges_that_do_not_fit_the_network_apply_in_fp32(how):
    """A manifest may come from another member: ranges it does not fit never reach the quantizer."""
    net = random_paired()
    ranges = measure_ranges(net, calibration_images(1))
    assert in_int8(net, ranges) is not None
    assert in_int8(net, hostile(ranges, how)) is None
    fallback = runner(net, INT8, hostile(ranges, how))
    assert isinstance(fallback, PairedNet) and fallback.strided


def test_training_records_the_int8_guard_and_ranges_from_training_patches(shop, trained):
    manifest = find(shop, trained).manifest
    recorded = manifest["metrics"]["int8"]
    assert set(recorded) == {"fp32_psnr", "int8_psnr", "loss_db", "int8_allowed", "ranges", "form"}
    assert recorded["fp32_psnr"] == pytest.approx(manifest["metrics"]["bf16"]["fp32_psnr"])
    assert recorded["loss_db"] == pytest.approx(max(0.0, recorded["fp32_psnr"] - recorded["int8_psnr"]))
    net = load_network(find(shop, trained))
    assert isinstance(runner(net, INT8, recorded["ranges"]), Int8Net)
    [card] = apprentice_cards(shop, trained)
    assert "8-bit integers" in card["precision"] and "bfloat16" in card["precision"]


@pytest.mark.parametrize("picks", [True, False])
def test_the_int8_ranges_recorded_fit_the_network_published(shop, small_task, tmp_path, monkeypatch, picks):
    """Where validation keeps the snap, the apprentice is published without its picking head: ranges measured with
    that head would fit no network apply loads, and an allowed 8-bit guard would silently apply in fp32."""
    monkeypatch.setattr("apprentice.train.loop.kept", lambda scores: 0 if picks else len(scores) - 1)
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 3)])
    train(shop, small_task, Budget(steps=6), TrainConfig(patch=32, batch=4, validate_every=3))
    made = find(shop, small_task)
    net = load_network(made)
    assert (net.picker is not None) == picks
    assert isinstance(runner(net, INT8, calibration.int8_ranges(made.manifest)), Int8Net)


def test_int8_ranges_are_measured_on_training_patches_never_on_held_out_ones(monkeypatch):
    net = random_paired()
    seen = []

    def recording(net, patches):
        seen.extend(patches)
        return measure_ranges(net, seen)

    monkeypatch.setattr("apprentice.train.precision.measure_ranges", recording)
    source = np.random.default_rng(0).integers(0, 256, (40, 48, 4), dtype=np.uint8)
    validation = [(premultiply(source), premultiply(source))]
    patches = calibration_images(2)
    _, recorded = measure_guards(net, validation, Finish(), iter(patches))
    assert len(seen) == 2 and all(a is b for a, b in zip(seen, patches, strict=True))
    assert set(recorded["ranges"]) == set(measure_ranges(net, patches))


def test_calibration_chooses_int8_where_it_measures_faster(shop, trained, monkeypatch):
    allow(shop, trained, True, int8=True)
    timed = on_a_cpu(monkeypatch, ZEN3, {FP32: 2.0, INT8: 4.0})
    net = load_network(find(shop, trained))
    assert calibration.precision_for(shop, find(shop, trained), net) == INT8
    assert timed == [(FP32, INT8)]  # bf16 is emulated on this CPU: never timed
    on_a_cpu(monkeypatch, ZEN3.replace("AMD EPYC", "Slow int8"), {FP32: 2.0, INT8: 1.0})
    assert calibration.precision_for(shop, find(shop, trained), net) == FP32


def test_an_apprentice_trained_before_int8_applies_in_fp32(shop, trained, monkeypatch):
    made = find(shop, trained)
    manifest = made.manifest
    del manifest["metrics"]["int8"]
    (made.folder / "manifest.json").write_text(json.dumps(manifest))
    timed = on_a_cpu(monkeypatch, ZEN3, {FP32: 2.0, INT8: 4.0})
    net = load_network(find(shop, trained))
    assert calibration.precision_for(shop, find(shop, trained), net, "int8") == FP32
    assert calibration.precision_for(shop, find(shop, trained), net) == FP32 and timed == []


def test_apply_in_int8_writes_outputs_close_to_fp32(shop, trained, monkeypatch, tmp_path):
    allow(shop, trained, False, int8=True)
    on_a_cpu(monkeypatch, ZEN3, {})
    ran = []
    monkeypatch.setattr("apprentice.jobs.runner", lambda *args: ran.append(runner(*args)) or ran[-1])
    write_pair_folder(tmp_path / "new", 2, seed=7, size=(70, 52))
    made = {}
    for precision in (FP32, INT8):
        apply(shop, trained, [tmp_path / "new" / "before"], tmp_path / precision, ApplyOptions(precision=precision))
        made[precision] = np.asarray(Image.open(tmp_path / precision / "p0.png").convert("RGBA"))
    assert isinstance(ran[0], PairedNet) and isinstance(ran[1], Int8Net)
    assert over_white_psnr(made[FP32], made[INT8]) > 35.0
