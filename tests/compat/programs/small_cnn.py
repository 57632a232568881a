"""The tutorials' last step, a convolutional network, written device-agnostically: Conv2d,
BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Flatten and Linear, trained on a fixed batch of
random images until it fits them, then evaluated with model.eval()."""
SAME_NUMBERS = False  # random images and initial weights


def make_cnn(torch):
    nn = torch.nn

    class SmallCNN(nn.Module):
        def __init__(self, classes=4):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, kernel_size=3, stride=1, padding=1, groups=2), nn.ReLU(),
                nn.AdaptiveAvgPool2d((2, 2)))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2 * 2, classes))

        def forward(self, x):
            return self.classifier(self.features(x))
    return SmallCNN


def main(torch):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    images = torch.randn(32, 1, 12, 12).to(device)
    labels = torch.randint(0, 4, (32,)).to(device)
    model = make_cnn(torch)()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    criterion = torch.nn.CrossEntropyLoss()

    model.train()
    first = None
    for step in range(60):
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        first = loss.item() if first is None else first
        loss.backward()
        optimizer.step()

    model.eval()
    with torch.no_grad():
        accuracy = (model(images).argmax(dim=1) == labels).float().mean().item()
    assert loss.item() < first / 4, (first, loss.item())
    assert accuracy > 0.9, accuracy
    return {"loss": loss.item(), "accuracy": accuracy}
