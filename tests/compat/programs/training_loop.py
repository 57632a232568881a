""""What is torch.nn really?": a Module with dropout and batch norm, a DataLoader over a
TensorDataset, a fit loop that switches model.train() and model.eval(), validation loss under
no_grad, and accuracy from argmax."""
SAME_NUMBERS = False  # the data, initial weights, dropout masks and shuffles are random


def make_model(torch):
    nn = torch.nn

    class Classifier(nn.Module):
        def __init__(self, features, classes):
            super().__init__()
            self.hidden = nn.Linear(features, 32)
            self.norm = nn.BatchNorm1d(32)
            self.dropout = nn.Dropout(0.2)
            self.out = nn.Linear(32, classes)

        def forward(self, xb):
            return self.out(self.dropout(torch.relu(self.norm(self.hidden(xb)))))
    return Classifier


def loss_batch(torch, model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def main(torch):
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    centres = torch.randn(3, 8) * 3
    labels = torch.randint(0, 3, (600,))
    inputs = centres[labels] + torch.randn(600, 8)
    train_ds = TensorDataset(inputs[:500], labels[:500])
    valid_ds = TensorDataset(inputs[500:], labels[500:])
    train_dl = DataLoader(train_ds, batch_size=32, shuffle=True)
    valid_dl = DataLoader(valid_ds, batch_size=64)

    model = make_model(torch)(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_func = torch.nn.functional.cross_entropy
    for epoch in range(5):
        model.train()
        for xb, yb in train_dl:
            loss_batch(torch, model, loss_func, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, nums = zip(*[loss_batch(torch, model, loss_func, xb, yb)
                                 for xb, yb in valid_dl])
        val_loss = sum(loss * num for loss, num in zip(losses, nums)) / sum(nums)

    with torch.no_grad():
        predictions = torch.argmax(model(inputs[500:]), dim=1)
    accuracy = (predictions == labels[500:]).float().mean().item()
    assert not model.training and model.norm.num_batches_tracked.item() == 5 * len(train_dl)
    assert accuracy > 0.9, accuracy
    return {"val_loss": val_loss, "accuracy": accuracy}
