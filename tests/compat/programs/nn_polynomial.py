"""PyTorch's "Learning PyTorch with Examples", the nn version: the polynomial as
Linear(3, 1) on the features (x, x², x³), MSELoss(reduction="sum"), a manual update of each
parameter under no_grad, and zero_grad on the model."""
import math

SAME_NUMBERS = True


def main(torch):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1)
    )
    for parameter in model.parameters():  # the same start on every library
        torch.nn.init.zeros_(parameter)
    loss_fn = torch.nn.MSELoss(reduction='sum')

    learning_rate = 1e-6
    for t in range(2000):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad

    linear_layer = model[0]
    assert loss.item() < 50
    return {"loss": loss.item(), "bias": linear_layer.bias.item(),
            "weights": linear_layer.weight[:, 0].item()}
