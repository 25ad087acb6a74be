"""keras-transformer: Transformer layers, models and runnable chapters for Keras 3.

The working companion of a Transformer textbook: `keras_transformer.ops` holds
the attention kernel, `keras_transformer.masks` the mask vocabulary,
`keras_transformer.layers` the building blocks and `keras_transformer.models`
the model families built from them, `keras_transformer.losses` their
sequence losses; `keras_transformer.plots` (imported on
demand, it needs matplotlib) draws attention heatmaps and curves.
"""

from keras_transformer._tensorflow_import import import_tensorflow_without_jax

import_tensorflow_without_jax()  # before Keras imports TensorFlow, see the module

from keras_transformer import layers, losses, masks, models, ops  # noqa: E402

__version__ = "0.1.0"

__all__ = ["layers", "losses", "masks", "models", "ops", "__version__"]
