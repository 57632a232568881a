"""Saving and restoring as PyTorch's tutorials do it, in memory (torch.save/load aside): a model's state_dict (with
batch-norm buffers) into a fresh model gives the same outputs; an optimizer's state_dict into
a fresh optimizer continues the same steps; load_state_dict(strict=False) reports the keys."""
import copy

SAME_NUMBERS = False  # the initial weights are random


def make_net(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 8), nn.Linear(8, 8)])
            self.heads = nn.ModuleDict({"score": nn.Linear(8, 1), "label": nn.Linear(8, 3)})
            self.norm = nn.BatchNorm1d(8)

        def forward(self, x):
            for layer in self.layers:
                x = torch.tanh(layer(x))
            x = self.norm(x)
            return self.heads["score"](x), self.heads["label"](x)
    return Net


def train_steps(torch, model, optimizer, x, steps):
    for _ in range(steps):
        score, label = model(x)
        loss = score.pow(2).mean() + label.logsumexp(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def main(torch):
    torch.manual_seed(0)
    Net = make_net(torch)
    x = torch.randn(16, 4)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train_steps(torch, model, optimizer, x, 3)

    restored = Net()
    restored.load_state_dict(model.state_dict())
    restored_optimizer = torch.optim.Adam(restored.parameters(), lr=0.01)
    # a copy, as torch.save would write: the live state keeps changing as the model trains
    restored_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    model.eval()
    restored.eval()
    with torch.no_grad():
        assert torch.equal(model(x)[1], restored(x)[1])
    assert "norm.running_mean" in model.state_dict()
    model.train()
    restored.train()
    continued = train_steps(torch, model, optimizer, x, 2)
    assert train_steps(torch, restored, restored_optimizer, x, 2) == continued

    partial = {k: v for k, v in model.state_dict().items() if not k.startswith("heads.label")}
    result = restored.load_state_dict(partial, strict=False)
    assert sorted(result.missing_keys) == ["heads.label.bias", "heads.label.weight"]
    assert result.unexpected_keys == []
    return {"loss": continued}
