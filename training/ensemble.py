"""Average several trained networks into one Keras model.

Networks trained from different seeds make different mistakes, most of all on
inputs unlike their training data - users' drawings rather than MNIST. The
mean of their probabilities is more accurate and better calibrated than any
one of them. The members are nested inside a single functional model, so the
ensemble is one ``.keras`` file: the daemon loads, checks, hot-reloads and runs
it like any other model (one compiled call per batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def average(members: Sequence[Any], name: str = "ensemble") -> Any:
    """One model whose output is the mean of the members' softmax outputs (inputs (28, 28, 1))."""
    import keras

    if not members:
        raise ValueError("an ensemble needs at least one member")
    if len(members) == 1:
        return members[0]
    inputs = keras.Input((28, 28, 1))
    outputs = []
    for i, member in enumerate(members):
        member.name = f"member_{i}"  # unique layer names inside the ensemble
        outputs.append(member(inputs))
    return keras.Model(inputs, keras.layers.Average()(outputs), name=name)


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """``model``'s answers for inputs (N, 28, 28, 1), in batches of 512, quietly."""
    return lambda x: model.predict(x, batch_size=512, verbose=0)


def load_predict(path: Path) -> Callable[[Any], Any]:
    """A saved model (safe mode, no optimizer state) as a predict function."""
    return predict_fn(load_members([path])[0])


def networks(path: Path) -> list[Any]:
    """The networks of the saved model at ``path``: each member of an ensemble, or the one network."""
    import keras

    model = keras.models.load_model(path, safe_mode=True, compile=False)
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return members or [model]


def load_members(paths: Sequence[Path]) -> list[Any]:
    """Load trained models (safe mode, without optimizer state) to become ensemble members."""
    import keras

    return [keras.models.load_model(p, safe_mode=True, compile=False) for p in paths]
