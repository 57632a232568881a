"""The tutorials' convolutional network learns scikit-learn's 8×8 digits in a few seconds."""
import numpy
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import chainrule
from chainrule.errors import ShapeError
from chainrule.models import CNNClassifier, ConvNet


def test_cnn_classifier_learns_the_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    with threadpool_limits(1):  # matrices this small: a second BLAS thread only waits
        model = CNNClassifier(channels=(8, 16), hidden=32, epochs=5, lr=0.01,
                              batch_size=32).fit(X_train, y_train)
    losses = model.history_["loss"]
    assert losses[-1] < losses[0] / 5
    assert model.score(X_test, y_test) >= 0.9  # chance is 0.1
    assert model.predict_proba(X_test[:2]).shape == (2, 10)


def test_convnet_shapes_follow_the_tutorial():
    net = ConvNet()
    assert [tuple(p.shape) for p in net.parameters()] == [
        (32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 64 * 7 * 7), (128,), (10, 128), (10,)]
    images = chainrule.randn(2, 1, 28, 28)
    assert net(images).shape == (2, 10)
    assert numpy.allclose(net(images.reshape(2, 784)).detach().numpy(),
                          net(images).detach().numpy())


def test_rows_that_are_not_square_images_are_refused():
    with pytest.raises(ShapeError, match="not a square image"):
        CNNClassifier(epochs=1).fit(numpy.zeros((4, 10)), [0, 1, 0, 1])
