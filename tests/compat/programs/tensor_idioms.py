"""Idioms PyTorch programs are made of: views and joins, picking log-probabilities with gather,
one-hot targets with scatter_, top-k accuracy, masks, running sums, einsum attention scores,
whole-tensor comparisons, and leaving the graph with detach and no_grad."""
SAME_NUMBERS = True


def main(torch):
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 3.0, -0.5], [1.0, 1.5, 0.0, 2.5]],
                          requires_grad=True)
    target = torch.tensor([0, 2, 1])

    # the negative log-likelihood picked by gather equals cross_entropy
    log_probs = logits.log_softmax(dim=1)
    picked = -log_probs.gather(1, target.unsqueeze(1)).squeeze(1).mean()
    assert torch.allclose(picked, torch.nn.functional.cross_entropy(logits, target))
    picked.backward()

    # one-hot rows, and the same through scatter_add of ones
    one_hot = torch.zeros(3, 4).scatter_(1, target.unsqueeze(1), 1.0)
    assert torch.equal(one_hot.argmax(dim=1), target)
    counts = torch.zeros(4).scatter_add(0, target, torch.ones(3))

    # top-k accuracy, sorting, masks
    top2 = logits.topk(2, dim=1).indices
    top2_accuracy = (top2 == target.unsqueeze(1)).any(dim=1).float().mean()
    ranked, order = logits.detach().sort(dim=1, descending=True)
    masked = logits.detach().masked_fill(logits.detach() < 0, 0.0)

    # views, joins, running sums, products
    x = torch.arange(12.0).view(3, 4)
    joined = torch.cat([x, x.t().reshape(3, 4)], dim=0)
    stacked = torch.stack([x, -x], dim=-1)
    cumulative = x.cumsum(dim=1)
    rows = x.index_select(0, torch.tensor([2, 0]))

    # attention scores with einsum, softmax over keys
    q, k = x[:, :2], x[:, 2:]
    weights = torch.einsum("qd,kd->qk", q, k).softmax(dim=-1)

    # leaving the graph
    with torch.no_grad():
        doubled = logits * 2
    assert not doubled.requires_grad and not logits.detach().requires_grad
    assert torch.isclose(weights.sum(dim=-1), torch.ones(3)).all()
    return {
        "nll": picked.item(), "grad": logits.grad.tolist(), "counts": counts.tolist(),
        "top2_accuracy": top2_accuracy.item(), "order": order.tolist(),
        "masked_sum": masked.sum().item(), "joined": joined.shape[0] * joined.shape[1],
        "stacked": list(stacked.shape), "cumulative": cumulative[:, -1].tolist(),
        "rows": rows.tolist(), "prod": x[1].prod().item(), "weights": weights[0].tolist(),
    }
