"""The in-betweener's starting motion: OpenCV's DIS flow between the keys, halved toward each."""

from __future__ import annotations

import torch

from apprentice.kinds.flow_prior import prior_flows
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet


def square_at(x: int, side: int = 64) -> torch.Tensor:
    """A premultiplied 1×4×side×side frame: a dark textured square at column x on white paper."""
    frame = torch.ones(1, 4, side, side)
    texture = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.3
    frame[0, :3, 24:40, x : x + 16] = texture
    return frame


def test_the_flows_point_from_the_middle_halfway_back_to_each_key():
    flows = prior_flows(square_at(20), square_at(28))  # the square moves 8 px right
    inside = flows[0, :, 28:36, 26:34].mean(dim=(1, 2))  # the middle's square lies at 24
    assert torch.allclose(inside, torch.tensor([-4.0, 0.0, 4.0, 0.0, 0.0]), atol=0.5), inside  # blended evenly


def test_frames_too_small_for_dis_start_from_no_motion():
    assert not prior_flows(torch.rand(2, 4, 8, 8), torch.rand(2, 4, 8, 8)).any()


def test_an_untrained_network_starting_from_the_flow_draws_the_square_halfway():
    torch.manual_seed(0)
    net = InbetweenNet(InbetweenConfig(width=8, mid_width=8, deep_width=8, blocks=1, prior=True)).eval()
    torch.nn.init.zeros_(net.head.weight)  # no learned correction yet: the flow's warp and blend alone
    torch.nn.init.zeros_(net.head.bias)
    first, last = square_at(20), square_at(28)
    with torch.inference_mode():
        middle = net(torch.cat([first, last, first, last], dim=1))
    gray = middle[0, :3].mean(dim=0)
    assert (gray[26:38, 24:40] < 0.5).float().mean() > 0.9  # the whole square, where a cross-fade is half grey
    assert (gray[26:38, 20:23] > 0.8).all() and (gray[26:38, 41:44] > 0.8).all()  # and no ghost of either key
