"""PyTorch's "Learning PyTorch with Examples": a custom nn.Module with four scalar Parameters,
trained by SGD on MSELoss(reduction="sum")."""
import math

SAME_NUMBERS = True


def make_polynomial(torch):
    class Polynomial3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.zeros(()))
            self.b = torch.nn.Parameter(torch.zeros(()))
            self.c = torch.nn.Parameter(torch.zeros(()))
            self.d = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            return (f'y = {self.a.item():.3f} + {self.b.item():.3f} x + {self.c.item():.3f} x^2 '
                    f'+ {self.d.item():.3f} x^3')
    return Polynomial3


def main(torch):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    model = make_polynomial(torch)()
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    for t in range(2000):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert [name for name, _ in model.named_parameters()] == ["a", "b", "c", "d"]
    assert model.string().startswith("y = ")
    # the coefficients as numbers: printed, a value near 0 reads "-0.000" in one and "0.000" in
    # the other library
    return {"loss": loss.item(), "coefficients": [p.item() for p in model.parameters()]}
