"""Contrastive losses as small modules returning ``{"contrastive_loss": ...}``.

The distributed strategy is a constructor argument:

- ``local``: the batch on this process is the whole batch.
- ``neighbour`` (sigmoid only): each rank scores its images against its own texts, then the
  text embeddings travel around the ring of ranks, one neighbour exchange (P2P) at a time, and
  each received block adds a negatives-only term. Each block's gradients are computed as soon
  as it is scored and its logits freed; the text gradients travel back around the ring in the
  backward pass. Memory is O(local batch^2).
- ``gather``: all embeddings are all-gathered with gradients; each rank scores its own rows
  against the global batch. Memory is O(local batch x global batch).

Per-rank losses are normalised by the local batch, so their mean over ranks (what DDP's
gradient averaging optimises) equals the single-process loss on the global batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

STRATEGIES = ("local", "neighbour", "gather")


def _world(group: Any) -> tuple[int, int]:
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(group), dist.get_world_size(group)


def _exchange(tensor: torch.Tensor, to_rank: int, from_rank: int, group: Any) -> torch.Tensor:
    """Send ``tensor`` to ``to_rank`` and receive a tensor of the same shape from ``from_rank``."""
    recv = torch.empty_like(tensor)
    g = group if group is not None else dist.group.WORLD
    ops = [
        dist.P2POp(dist.isend, tensor.contiguous(), dist.get_global_rank(g, to_rank), group),
        dist.P2POp(dist.irecv, recv, dist.get_global_rank(g, from_rank), group),
    ]
    for req in dist.batch_isend_irecv(ops):
        req.wait()
    return recv


def _block_grads(
    img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, positives: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One n x m block of the sigmoid loss and its gradients, without an autograd graph.

    Returns (loss sum, d/d img, d/d txt, d/d t', d/d b) for logits = img @ txt.T * t + b,
    t = exp(t'). Only this block's logits are alive while it runs.
    """
    # In place where possible: at most two n x m buffers are alive at once.
    cos = img @ txt.T
    z = cos.mul(scale).add_(bias).neg_()  # z = label * logit, label -1 off the diagonal
    if positives:
        z.diagonal().neg_()
    rows = max(1, (1 << 20) // max(z.shape[1], 1))  # temporaries of ~4 MiB, not n x m
    loss = sum(F.softplus(part.neg()).sum() for part in z.split(rows))  # -log sigmoid(z)
    g = z.neg_().sigmoid_()  # sigmoid(-z) = |d loss / d logit|; its sign is -label
    if positives:
        g.diagonal().neg_()
    d_scale = (g.reshape(-1) @ cos.reshape(-1)) * scale  # d logit / d t' = t * cos
    del cos
    d_bias = g.sum()
    g.mul_(scale)
    return loss, g @ txt, g.T @ img, d_scale, d_bias


class _SigmoidRing(torch.autograd.Function):
    """The sigmoid loss over a ring of ranks, with memory O(local batch^2).

    Forward: score the local images against the local texts, then pass the texts one
    neighbour to the right ``world - 1`` times, scoring each received block. Every block's
    logits live only while its loss and gradients are computed (``_block_grads``); what is
    kept is the gradient w.r.t. the local images and, per received block, w.r.t. that text
    block (n x d each). Backward sends those text gradients back around the ring to the rank
    they came from, in ``world - 1`` exchanges that accumulate as they travel.
    """

    @staticmethod
    def forward(ctx: Any, img: torch.Tensor, txt: torch.Tensor, t_prime: torch.Tensor,
                bias: torch.Tensor, group: Any):  # fmt: skip
        rank, world = _world(group)
        right, left = (rank + 1) % world, (rank - 1) % world
        scale = t_prime.exp()
        img, block = img.detach(), txt.detach()
        loss, d_img, d_txt0, d_scale, d_bias = _block_grads(img, block, scale, bias, True)
        d_txts = [d_txt0]
        for _ in range(world - 1):
            block = _exchange(block, right, left, group)
            l_k, d_img_k, d_txt_k, ds_k, db_k = _block_grads(img, block, scale, bias, False)
            loss, d_img = loss + l_k, d_img + d_img_k
            d_scale, d_bias = d_scale + ds_k, d_bias + db_k
            d_txts.append(d_txt_k)
        ctx.group, ctx.right, ctx.left = group, right, left
        ctx.save_for_backward(d_img, d_scale.view_as(t_prime), d_bias.view_as(bias), *d_txts)
        return loss

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        d_img, d_scale, d_bias, *d_txts = ctx.saved_tensors
        # d_txts[k] belongs to the rank k steps to the left: shift an accumulator left.
        acc = d_txts[-1]
        for k in range(len(d_txts) - 2, -1, -1):
            acc = _exchange(acc, ctx.left, ctx.right, ctx.group) + d_txts[k]
        return grad * d_img, grad * acc, grad * d_scale, grad * d_bias, None


class _AllGather(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums the gradients of every rank's copy.

    (``torch.distributed.nn.all_gather`` needs reduce-scatter, which gloo lacks.)
    """

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, group: Any):
        rank, world = _world(group)
        ctx.rank, ctx.n, ctx.group = rank, tensor.shape[0], group
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous(), group=group)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad, group=ctx.group)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n], None


def all_gather_with_grad(tensor: torch.Tensor, group: Any = None) -> torch.Tensor:
    return _AllGather.apply(tensor, group) if _world(group)[1] > 1 else tensor


def _check(strategy: str, allowed: tuple[str, ...], name: str) -> None:
    if strategy not in allowed:
        raise ValueError(f"{name}: unknown strategy {strategy!r}; available: {list(allowed)}")


class SigLipLoss(nn.Module):
    """Sigmoid loss (Zhai et al. 2023, Algorithm 1): -sum log sigmoid(z * (t x.y + b)) / n."""

    #: the loss reads the model's logit bias b (so the model must have one)
    uses_bias: ClassVar[bool] = True
    #: how several processes share the batch (see the module doc)
    distributed_strategy: ClassVar[str] = "neighbour"
    #: cap the temperature after each update (CLIP's 100)
    caps_scale: ClassVar[bool] = False

    def __init__(self, strategy: str = "local", group: Any = None) -> None:
        super().__init__()
        _check(strategy, STRATEGIES, "SigLipLoss")
        self.strategy, self.group = strategy, group

    @staticmethod
    def _block(
        img: torch.Tensor,
        txt: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor,
        positives: bool,
    ) -> torch.Tensor:
        logits = img @ txt.T * scale + bias
        labels = -torch.ones_like(logits)
        if positives:
            labels = labels + 2 * torch.eye(*logits.shape, dtype=logits.dtype, device=logits.device)
        return -F.logsigmoid(labels * logits).sum()

    def forward(
        self,
        image_embeds: torch.Tensor,
        text_embeds: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Embeddings are L2-normalised; ``logit_scale`` is t' (the loss uses exp(t'))."""
        n = image_embeds.shape[0]
        scale = logit_scale.exp()
        rank, world = _world(self.group)
        if self.strategy == "local" or world == 1:
            return {
                "contrastive_loss": self._block(image_embeds, text_embeds, scale, logit_bias, True)
                / n
            }
        if self.strategy == "gather":
            all_txt = all_gather_with_grad(text_embeds, self.group)
            logits = image_embeds @ all_txt.T * scale + logit_bias
            labels = -torch.ones_like(logits)
            idx = torch.arange(n, device=logits.device)
            labels[idx, rank * n + idx] = 1
            return {"contrastive_loss": -F.logsigmoid(labels * logits).sum() / n}
        loss = _SigmoidRing.apply(image_embeds, text_embeds, logit_scale, logit_bias, self.group)
        return {"contrastive_loss": loss / n}


class ClipLoss(nn.Module):
    """Softmax (InfoNCE) loss: mean of image->text and text->image cross-entropy."""

    uses_bias: ClassVar[bool] = False
    distributed_strategy: ClassVar[str] = "gather"
    caps_scale: ClassVar[bool] = True

    def __init__(self, strategy: str = "local", group: Any = None) -> None:
        super().__init__()
        _check(strategy, ("local", "gather"), "ClipLoss")
        self.strategy, self.group = strategy, group

    def forward(
        self,
        image_embeds: torch.Tensor,
        text_embeds: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        n = image_embeds.shape[0]
        scale = logit_scale.exp()
        rank, world = _world(self.group)
        if self.strategy == "local" or world == 1:
            all_img, all_txt, offset = image_embeds, text_embeds, 0
        else:
            all_img = all_gather_with_grad(image_embeds, self.group)
            all_txt = all_gather_with_grad(text_embeds, self.group)
            offset = rank * n
        labels = torch.arange(n, device=image_embeds.device) + offset
        logits_i = image_embeds @ all_txt.T * scale
        logits_t = text_embeds @ all_img.T * scale
        loss = (F.cross_entropy(logits_i, labels) + F.cross_entropy(logits_t, labels)) / 2
        return {"contrastive_loss": loss}


LOSSES: dict[str, type[nn.Module]] = {"sigmoid": SigLipLoss, "softmax": ClipLoss}


def loss_class(name: str) -> type[SigLipLoss] | type[ClipLoss]:
    """The loss registered as ``name``; its class attributes say what it needs of the model."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; available: {sorted(LOSSES)}")
    return LOSSES[name]  # type: ignore[return-value]


def make_loss(name: str, strategy: str = "local", group: Any = None) -> nn.Module:
    return loss_class(name)(strategy=strategy, group=group)
