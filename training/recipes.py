"""Model recipes: the seed tutorial's network, and the robust one the bundled model uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[int, int], Any]  # (steps_per_epoch, epochs) -> compiled keras.Model
    epochs: int
    batch_size: int
    normalize: bool  # inputs pass through daemon.preprocess.normalize (as in serving)
    augment: bool
    restroke: float  # fraction of training digits redrawn with uniform-width strokes (training/strokes.py)
    summary: str


def _seed(steps_per_epoch: int, epochs: int) -> Any:
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="seed",
    )
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _robust(steps_per_epoch: int, epochs: int) -> Any:
    import keras
    from keras import layers

    def block(x: Any, filters: int, kernel: int, padding: str = "same") -> Any:
        x = layers.Conv2D(filters, kernel, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x)

    inputs = keras.Input((28, 28, 1))
    x = block(inputs, 32, 5)
    x = layers.MaxPooling2D(2)(x)
    x = block(x, 64, 3)
    x = block(x, 64, 3)
    x = layers.MaxPooling2D(2)(x)
    x = block(x, 128, 3, padding="valid")
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="robust")
    total = max(1, steps_per_epoch * epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        1e-4, decay_steps=total - total // 20, warmup_target=2e-3, warmup_steps=total // 20, alpha=0.01
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


RECIPES = {
    "seed": Recipe(
        "seed",
        _seed,
        epochs=7,
        batch_size=32,
        normalize=False,
        augment=False,
        restroke=0.0,
        summary="the Keras tutorial: 3 conv + 2 dense, rmsprop, batch 32, 7 epochs, inputs scaled to [0,1]",
    ),
    "robust": Recipe(
        "robust",
        _robust,
        epochs=40,
        batch_size=128,
        normalize=True,
        augment=True,
        restroke=0.3,
        summary="batch-normalised CNN, dropout, Adam with warm-up + cosine decay, inputs through the serving "
        "preprocessor, augmented with rotation/zoom/shift/stroke-width changes and uniform-width redrawn strokes",
    ),
}


def augmenter(seed: int) -> Callable[[Any], Any]:
    """A tf.data map function: small rotations, zoom, shifts and stroke-width changes."""
    import keras
    import tensorflow as tf

    geometry = keras.Sequential(
        [
            keras.layers.RandomRotation(0.035, fill_mode="constant", seed=seed),
            keras.layers.RandomZoom((-0.12, 0.12), fill_mode="constant", seed=seed + 1),
            keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed + 2),
        ]
    )

    def apply(x: Any) -> Any:
        x = geometry(x, training=True)
        pick = tf.random.uniform((tf.shape(x)[0], 1, 1, 1), seed=seed + 3)
        thicker = tf.nn.max_pool2d(x, 2, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-x, 2, 1, "SAME")
        x = tf.where(pick < 0.2, thicker, tf.where(pick > 0.9, thinner, x))
        return tf.clip_by_value(x, 0.0, 1.0)

    return apply


# Why these rates: a fine-tune starts from weights that already read MNIST at 99.6%; a quarter of the robust
# recipe's peak rate teaches new styles in a few epochs without unlearning (MNIST val stays within 0.05 points).
FINETUNE_PEAK_RATE = 5e-4
FINETUNE_FINAL_RATE = 1e-5


def finetune(model: Any, steps_per_epoch: int, epochs: int) -> Any:
    """Compile a trained network to go on learning: short warm-up to a lower peak rate, cosine decay."""
    import keras

    total = max(1, steps_per_epoch * epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        FINETUNE_FINAL_RATE,
        decay_steps=total - total // 10,
        warmup_target=FINETUNE_PEAK_RATE,
        warmup_steps=total // 10,
        alpha=FINETUNE_FINAL_RATE / FINETUNE_PEAK_RATE,
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy", metrics=["accuracy"])
    return model
