"""PyTorch's "Learning PyTorch with Examples", the optim version: an optimizer updates the
weights (the tutorial's RMSprop is here Adam, an optimizer chainrule has on every branch)."""
import math

SAME_NUMBERS = True


def main(torch):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    with torch.no_grad():
        model[0].weight.fill_(0.0)
        model[0].bias.fill_(0.0)
    loss_fn = torch.nn.MSELoss(reduction='sum')

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for t in range(2000):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 50
    return {"loss": loss.item(), "weight": model[0].weight.detach().tolist()}
