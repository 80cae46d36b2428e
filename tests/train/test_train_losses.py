"""Losses: reference formulas, and distributed versions equal to the full batch (2 ranks, gloo)."""

from __future__ import annotations

import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from globelens.train.losses import ClipLoss, SigLipLoss, make_loss


class Towers(nn.Module):
    """Two linear towers; scale and bias are used inside forward, as DDP requires."""

    def __init__(self, bias: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.img = nn.Linear(12, 8)
        self.txt = nn.Linear(10, 8)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.logit_bias = nn.Parameter(torch.tensor(-10.0)) if bias else None

    def forward(self, a: torch.Tensor, b: torch.Tensor):
        bias = self.logit_bias * 1 if self.logit_bias is not None else None
        return (
            F.normalize(self.img(a), dim=-1),
            F.normalize(self.txt(b), dim=-1),
            self.logit_scale * 1,
            bias,
        )


def _data(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 12, generator=g), torch.randn(n, 10, generator=g)


def _full(loss_name: str) -> tuple[float, dict[str, torch.Tensor]]:
    model = Towers(bias=loss_name == "sigmoid")
    loss = make_loss(loss_name)(*model(*_data()))["contrastive_loss"]
    loss.backward()
    return loss.item(), {
        k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None
    }


def _worker(rank: int, world: int, port: int, loss_name: str, strategy: str, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = nn.parallel.DistributedDataParallel(Towers(bias=loss_name == "sigmoid"))
    a, b = _data()
    n = a.shape[0] // world
    outputs = model(a[rank * n : (rank + 1) * n], b[rank * n : (rank + 1) * n])
    m = model.module
    loss = make_loss(loss_name, strategy)(*outputs)["contrastive_loss"]
    loss.backward()  # DDP averages the gradients over ranks
    mean_loss = loss.detach().clone()
    dist.all_reduce(mean_loss)
    grads = {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}
    out[rank] = (mean_loss.item() / world, grads)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("loss_name", "strategy"),
    [("sigmoid", "neighbour"), ("sigmoid", "gather"), ("softmax", "gather")],
)
def test_distributed_equals_full_batch(loss_name: str, strategy: str) -> None:
    want_loss, want_grads = _full(loss_name)
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(2, _free_port(), loss_name, strategy, out), nprocs=2, join=True)
    for rank in range(2):
        got_loss, got_grads = out[rank]
        assert abs(got_loss - want_loss) < 1e-5
        for k, g in want_grads.items():
            assert torch.allclose(got_grads[k], g, atol=1e-5, rtol=0), (rank, k)


def test_sigmoid_matches_paper_formula() -> None:
    g = torch.Generator().manual_seed(0)
    x = F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    y = F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    tp, b = torch.tensor(math.log(10.0)), torch.tensor(-10.0)
    logits = x @ y.T * tp.exp() + b
    labels = 2 * torch.eye(5) - 1
    want = -F.logsigmoid(labels * logits).sum() / 5
    assert torch.allclose(SigLipLoss()(x, y, tp, b)["contrastive_loss"], want)
    ce = (
        F.cross_entropy(x @ y.T * 10, torch.arange(5))
        + F.cross_entropy(y @ x.T * 10, torch.arange(5))
    ) / 2
    assert torch.allclose(ClipLoss()(x, y, tp)["contrastive_loss"], ce)


def test_unknown_strategy_names_alternatives() -> None:
    with pytest.raises(ValueError, match="available"):
        ClipLoss("neighbour")
    with pytest.raises(ValueError, match="available"):
        make_loss("triplet")
