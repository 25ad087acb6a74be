"""What the `Encoder` and `Decoder` stacks share: blocks, weight sharing, final norm."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_transformer.layers._checks import check_positive

if TYPE_CHECKING:
    from keras_transformer.layers.block_base import BlockBase


class StackBase(keras.layers.Layer):
    """A stack of `num_layers` blocks of one class; see `Encoder` and `Decoder`.

    The blocks are `block_class` instances (the class attribute unless the
    constructor is given another, as `Encoder(reversible=True)` does).

    Example (shared weights: one block object, applied at every depth):
    >>> import keras_transformer as kt
    >>> encoder = kt.layers.Encoder(num_layers=3, num_heads=2, intermediate_dim=32,
    ...                             share_weights=True, norm_first=True)
    >>> len(encoder.blocks), len(encoder.layer_blocks()), encoder.layer_blocks()[0] is encoder.blocks[0]
    (1, 3, True)
    >>> encoder.final_norm is not None  # pre-LN blocks: a final LayerNorm closes the stack
    True
    """

    block_class: type

    def __init__(self, num_layers: int, *, share_weights: bool = False, block_class=None,
                 **block_kwargs):
        layer_kwargs = {
            k: block_kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in block_kwargs
        }
        super().__init__(**layer_kwargs)
        check_positive(num_layers=num_layers)
        self.num_layers = num_layers
        self.share_weights = share_weights
        self.block_kwargs = block_kwargs
        # Validates the block arguments now rather than at the first call.
        count = 1 if share_weights else num_layers
        block_class = block_class or self.block_class
        self.blocks = [
            block_class(**block_kwargs, dtype=self.dtype_policy, name=f"block_{i}")
            for i in range(count)
        ]
        self.norm_first = self.blocks[0].norm_first
        self.final_norm = None
        if self.norm_first:
            # Pre-LN blocks leave the residual stream unnormalized.
            self.final_norm = keras.layers.LayerNormalization(
                epsilon=self.blocks[0].layer_norm_epsilon,
                center=self.blocks[0].use_bias,
                dtype=self.dtype_policy,
                name="final_norm",
            )
        self.supports_masking = True

    def layer_blocks(self) -> list[BlockBase]:
        """The block applied at each depth: the same object `num_layers` times when shared."""
        return [self.blocks[0 if self.share_weights else i] for i in range(self.num_layers)]

    def _build_blocks(self, *shapes):
        for block in self.blocks:
            block.build(*shapes)
        if self.final_norm is not None:
            self.final_norm.build(shapes[0])
        self.built = True

    def _finish(self, x):
        return x if self.final_norm is None else self.final_norm(x)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "share_weights": self.share_weights,
            **self.blocks[0].hyperparameters(),
        }
