"""PyTorch's "Learning PyTorch with Examples": fit y = sin(x) with a cubic polynomial, using
tensors and autograd, and a hand-written gradient step."""
import math

SAME_NUMBERS = True


def main(torch):
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    a = torch.zeros((), dtype=dtype, requires_grad=True)
    b = torch.zeros((), dtype=dtype, requires_grad=True)
    c = torch.zeros((), dtype=dtype, requires_grad=True)
    d = torch.zeros((), dtype=dtype, requires_grad=True)

    learning_rate = 1e-6
    losses = []
    for t in range(2000):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    assert losses[-1] < losses[0] / 10
    return {"loss": losses[-1], "coefficients": [a.item(), b.item(), c.item(), d.item()]}
