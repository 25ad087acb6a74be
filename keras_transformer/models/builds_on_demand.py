"""Models that build themselves when a method needs their weights before any call.

Every model here sizes its weights from its settings alone (vocabulary, width,
depth), never from the batch or the sequence length. Keras builds a subclassed
model on its first call, so a model that was only constructed has no weights:
`count_params()` raises and `summary()` reports 0 parameters. A model with this
mixin builds itself from `fresh_input_shape()` (batch and length left `None`)
whenever such a method, saving and loading, or a decoding method needs its
weights first.
"""

from __future__ import annotations

from typing import Any

from keras_transformer.models.recovers_from_errors import recovered_on_error


class BuildsOnDemand:
    """Mixin for a `keras.Model` whose weights do not depend on its input shape.

    Example: count a model that was never called.
    >>> import keras_transformer as kt
    >>> bert = kt.models.BERT(vocab_size=30, max_length=8, num_layers=1, num_heads=2,
    ...                       hidden_dim=8, intermediate_dim=16)
    >>> bert.count_params(), bert.built
    (1008, True)
    """

    def fresh_input_shape(self) -> Any:
        """The input shape structure to build from, with batch and lengths `None`."""
        raise NotImplementedError

    def ensure_built(self) -> None:
        """Build the model if it was never called or built.

        Example:
        >>> import keras_transformer as kt
        >>> rnn = kt.models.RNNAttentionSeq2Seq(10, 10, embedding_dim=4, hidden_dim=4)
        >>> rnn.ensure_built()
        >>> rnn.built
        True
        """
        if not self.built:
            self.build(self.fresh_input_shape())

    def count_params(self) -> int:
        """The number of weights; a model never called is built first."""
        self.ensure_built()
        return super().count_params()

    def summary(self, *args: Any, **kwargs: Any) -> None:
        """`keras.Model.summary`, with the weights counted even before the first call."""
        self.ensure_built()
        return super().summary(*args, **kwargs)

    # Saving a model never called would store no weights (`save` only warns),
    # and loading into one would refuse: restoring a fresh model is common.
    def save(self, *args: Any, **kwargs: Any) -> None:
        """`keras.Model.save`, with the weights of a model never called built first."""
        self.ensure_built()
        return super().save(*args, **kwargs)

    def save_weights(self, *args: Any, **kwargs: Any) -> None:
        """`keras.Model.save_weights`, with the weights of a model never called built first."""
        self.ensure_built()
        return super().save_weights(*args, **kwargs)

    def load_weights(self, *args: Any, **kwargs: Any) -> None:
        """`keras.Model.load_weights`, into a model that builds itself first if never called."""
        self.ensure_built()
        return super().load_weights(*args, **kwargs)

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """`keras.Model.fit`, on a model built first; after an error the model still works."""
        self.ensure_built()
        with recovered_on_error(self):
            return super().fit(*args, **kwargs)

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        """`keras.Model.evaluate`, on a model built first; after an error the model still works."""
        self.ensure_built()
        with recovered_on_error(self):
            return super().evaluate(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """`keras.Model.predict`, on a model built first; after an error the model still works."""
        self.ensure_built()
        with recovered_on_error(self):
            return super().predict(*args, **kwargs)
