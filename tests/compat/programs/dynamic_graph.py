"""PyTorch's "Learning PyTorch with Examples": control flow and weight sharing. Each forward
pass picks how many times to reuse one parameter (a new graph per step), trained by SGD with
momentum."""
import math
import random

SAME_NUMBERS = True


def make_dynamic_net(torch):
    class DynamicNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(0.1))
            self.b = torch.nn.Parameter(torch.tensor(0.2))
            self.c = torch.nn.Parameter(torch.tensor(-0.1))
            self.d = torch.nn.Parameter(torch.tensor(0.05))
            self.e = torch.nn.Parameter(torch.tensor(0.0))

        def forward(self, x):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for exp in range(4, random.randint(4, 6)):
                y = y + self.e * x ** exp
            return y
    return DynamicNet


def main(torch):
    random.seed(0)
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    model = make_dynamic_net(torch)()
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    first = None
    for t in range(500):
        loss = criterion(model(x), y)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    return {"loss": loss.item(), "e": model.e.item()}
