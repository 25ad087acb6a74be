"""Model families built from `keras_transformer.layers`."""

from keras_transformer.models.gpt import GPT

__all__ = ["GPT"]
