"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks") from the paper.

U-Net generator, 70×70 PatchGAN, GAN + 100·L1 loss, Adam; trained on a wall-clock budget. ADAPTATIONS lists
every place where this differs from, or has to read between the lines of, the paper.

What follows the paper as written: generator encoder C64-C128-C256-C512-C512-C512-C512-C512 and decoder
CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128 (the numbers count channels after the skip concatenation), a
4×4 transposed convolution to 3 channels and tanh; 4×4 convolutions, stride 2; BatchNorm except on the first
C64; LeakyReLU 0.2 in the encoder, ReLU in the decoder; dropout 0.5 in the first three decoder blocks.
Discriminator C64-C128-C256-C512 on the input and output concatenated, then a convolution to one channel; BCE
on its logits (the paper's sigmoid + cross-entropy). Weights from N(0, 0.02). One step: D on real and fake
with its loss halved, then G on the non-saturating GAN loss + 100·L1. Adam lr 2e-4, β 0.5, 0.999; batch 1;
jitter by resizing to 286 and a random 256² crop, and random mirroring. Normalisation always uses the
statistics of the batch at hand, as the paper does at test time; at batch 1 this is instance normalisation.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

SIDE = 256  # px, the training crop; the generator halves it 8 times
JITTER = 286  # px, what a 256 px side is resized to before the random crop
L1_WEIGHT = 100.0
ENCODER = (64, 128, 256, 512, 512, 512, 512, 512)
DECODER = (512, 512, 512, 512, 256, 128, 64)  # outputs before each skip concatenation
DROPOUT_BLOCKS = 3

ADAPTATIONS = [
    "no BatchNorm on the innermost encoder layer (C512 at 1×1): at batch 1 it normalises one value per channel "
    "to zero, cutting the bottleneck (PyTorch refuses it outright in training)",
    "jitter keeps each pair's aspect: scale by 286/256, then a random 256² crop (exactly the paper's 286 → 256 "
    "for our 256² training pairs; a side that ends up under 256 would be padded with white)",
    "pictures enter as RGB in [-1, 1]; transparent pixels are first composited over white paper",
    "a whole picture is padded with white on the right and bottom to a multiple of 256 (the generator halves "
    "it 8 times), run at once, and cropped back",
    "at test time dropout stays on, as in the paper, with a fixed seed so a result is repeatable",
    "the discriminator's last C512 and output convolution use stride 1: the paper says stride 2 throughout but "
    "names a 70×70 receptive field, which only strides 2, 2, 2, 1, 1 give (4 → 7 → 16 → 34 → 70)",
    "training runs for a wall-clock budget (pairs drawn in shuffled epochs) instead of 200 epochs",
    "CPU, float32, the threads torch picks; PyTorch's default init for biases is replaced by zeros",
]


def encoder_block(into: int, out: int, norm: bool) -> nn.Sequential:
    """Ck of the encoder: 4×4 convolution, stride 2, optional BatchNorm, LeakyReLU 0.2."""
    layers: list[nn.Module] = [nn.Conv2d(into, out, 4, 2, 1, bias=not norm)]
    layers += [nn.BatchNorm2d(out, track_running_stats=False)] if norm else []
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


def decoder_block(into: int, out: int, dropout: bool) -> nn.Sequential:
    """Ck (CDk with dropout) of the decoder: 4×4 transposed convolution, stride 2, BatchNorm, dropout, ReLU."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(into, out, 4, 2, 1, bias=False)]
    layers += [nn.BatchNorm2d(out, track_running_stats=False)]
    layers += [nn.Dropout(0.5)] if dropout else []
    return nn.Sequential(*layers, nn.ReLU())


class UNetGenerator(nn.Module):
    """The paper's U-Net: 8 encoder blocks, 7 decoder blocks each followed by its skip, then tanh to RGB."""

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        sizes = (channels, *ENCODER)
        last = len(ENCODER) - 1
        self.encoder = nn.ModuleList(
            encoder_block(sizes[i], sizes[i + 1], norm=0 < i < last) for i in range(len(ENCODER))
        )
        inputs = [ENCODER[-1]] + [DECODER[i] + ENCODER[-2 - i] for i in range(len(DECODER) - 1)]
        self.decoder = nn.ModuleList(
            decoder_block(inputs[i], DECODER[i], dropout=i < DROPOUT_BLOCKS) for i in range(len(DECODER))
        )
        self.output = nn.Sequential(nn.ConvTranspose2d(DECODER[-1] + ENCODER[0], channels, 4, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        for i, block in enumerate(self.decoder):
            x = torch.cat([block(x), skips[-2 - i]], dim=1)
        return self.output(x)


class PatchDiscriminator(nn.Module):
    """The 70×70 PatchGAN: one real/fake logit per overlapping 70×70 patch of (input, output) side by side."""

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        sizes, strides = (2 * channels, 64, 128, 256, 512), (2, 2, 2, 1)
        for i, stride in enumerate(strides):
            norm = i > 0
            layers.append(nn.Conv2d(sizes[i], sizes[i + 1], 4, stride, 1, bias=not norm))
            layers += [nn.BatchNorm2d(sizes[i + 1], track_running_stats=False)] if norm else []
            layers.append(nn.LeakyReLU(0.2))
        self.layers = nn.Sequential(*layers, nn.Conv2d(sizes[-1], 1, 4, 1, 1))

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([before, after], dim=1))


def initialise(module: nn.Module) -> None:
    """The paper's N(0, 0.02) for convolution weights; biases start at zero."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Pix2Pix:
    """A pix2pix training run that can be continued: `train_for(seconds)` adds steps to the same networks."""

    def __init__(self, pairs: list[tuple[Image.Image, Image.Image]], seed: int) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.generator, self.discriminator = UNetGenerator(), PatchDiscriminator()
            self.generator.apply(initialise)
            self.discriminator.apply(initialise)
            self.torch_state = torch.get_rng_state()  # dropout draws continue from here, apart from other code
        self.g_optimiser = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.d_optimiser = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.examples = [(jittered(before), jittered(after)) for before, after in pairs]
        self.rng, self.order = np.random.default_rng(seed), []
        self.steps, self.seconds = 0, 0.0
        self.losses: dict[str, float] = {}  # of the last step: discriminator, generator's GAN term, L1

    def train_for(self, seconds: float) -> Pix2Pix:
        """Train until `seconds` more of wall-clock time have passed (checked before each step)."""
        deadline = time.monotonic() + seconds
        self.generator.train()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.torch_state)
            while time.monotonic() < deadline:
                started = time.monotonic()
                self.step(*self.draw())
                self.seconds += time.monotonic() - started
                self.steps += 1
            self.torch_state = torch.get_rng_state()
        return self

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next pair of the shuffled epoch, cropped at one random 256² place and mirrored half the time."""
        if not self.order:
            self.order = list(self.rng.permutation(len(self.examples)))
        before, after = self.examples[self.order.pop()]
        top = int(self.rng.integers(before.shape[2] - SIDE + 1))
        left = int(self.rng.integers(before.shape[3] - SIDE + 1))
        crops = [t[:, :, top : top + SIDE, left : left + SIDE] for t in (before, after)]
        if self.rng.random() < 0.5:
            crops = [t.flip(3) for t in crops]
        return crops[0], crops[1]

    def step(self, before: torch.Tensor, after: torch.Tensor) -> None:
        """One discriminator step (loss halved), then one generator step (GAN + 100·L1)."""
        made = self.generator(before)
        real, fake = self.discriminator(before, after), self.discriminator(before, made.detach())
        d_loss = 0.5 * (bce(real, True) + bce(fake, False))
        self.d_optimiser.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimiser.step()
        fooled, l1 = bce(self.discriminator(before, made), True), F.l1_loss(made, after)
        self.g_optimiser.zero_grad(set_to_none=True)
        (fooled + L1_WEIGHT * l1).backward()
        self.g_optimiser.step()
        self.losses = {"d": d_loss.item(), "gan": fooled.item(), "l1": l1.item()}


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def train_pix2pix(pairs: list[tuple[Image.Image, Image.Image]], seconds: float, seed: int) -> Pix2Pix:
    """A pix2pix run on (before, after) pairs, trained for `seconds`; continue it with `.train_for`."""
    return Pix2Pix(pairs, seed).train_for(seconds)


def apply_pix2pix(model: Pix2Pix | UNetGenerator, image: Image.Image) -> Image.Image:
    """The generator's RGB picture for a whole `image` of any size (dropout on, as the paper tests)."""
    generator = model.generator if isinstance(model, Pix2Pix) else model
    x = to_tensor(image)
    height, width = x.shape[2:]
    x = F.pad(x, (0, -width % SIDE, 0, -height % SIDE), value=1.0)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        generator.train()
        made = generator(x)[:, :, :height, :width]
    return to_image(made)


def jittered(image: Image.Image) -> torch.Tensor:
    """The picture scaled by 286/256 (bicubic) as a 1×3×H×W tensor, padded with white to at least 256²."""
    scaled = (round(image.width * JITTER / SIDE), round(image.height * JITTER / SIDE))
    x = to_tensor(image.resize(scaled, Image.Resampling.BICUBIC))
    return F.pad(x, (0, max(0, SIDE - x.shape[3]), 0, max(0, SIDE - x.shape[2])), value=1.0)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB over white paper as a 1×3×H×W float tensor in [-1, 1]."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()


def to_image(x: torch.Tensor) -> Image.Image:
    rgb = ((x[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return Image.fromarray(rgb, "RGB")
