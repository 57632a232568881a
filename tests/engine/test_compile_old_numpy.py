"""chainrule.compile under the NumPy versions pyproject.toml allows (numpy>=1.26): Python 3.10
installs NumPy 2.2, whose ndarray.__pow__ reads a 0-d exponent into Python with float() (a fast
path for x ** 2 that NumPy 2.3 dropped). Emulated here on the NumPy the suite runs with."""
import numpy

import chainrule
from chainrule import nn, optim, traced


def numpy_2_2_pow(self, exponent):
    if isinstance(exponent, numpy.ndarray) and exponent.ndim == 0:
        float(exponent)  # what NumPy < 2.3 does before choosing square, sqrt or power
    return numpy.ndarray.__pow__(self, exponent)


def test_a_step_with_a_power_records_where_numpy_reads_the_exponent_into_python(monkeypatch):
    monkeypatch.setattr(traced.Traced, "__pow__", numpy_2_2_pow, raising=False)
    models = []
    for _ in range(2):
        chainrule.manual_seed(0)
        model = nn.Linear(3, 2)
        optimizer = optim.SGD(model.parameters(), lr=0.01)

        def step(x, model=model, optimizer=optimizer):
            optimizer.zero_grad()
            loss = (model(x) ** 2).sum() + ((model(x) ** 2 + 1) ** 0.5).sum()
            loss.backward()
            optimizer.step()
            return loss
        models.append((model, step))
    (eager_model, eager_step), (model, step) = models
    compiled = chainrule.compile(step)
    for index in range(4):
        x = chainrule.tensor([[1.0, 2.0, 0.5]]) * (index + 1)
        assert compiled(x).item() == eager_step(x).item()
    assert compiled.program is not None  # recorded and replayed, not refused
    assert numpy.array_equal(model.weight.detach().numpy(), eager_model.weight.detach().numpy())
