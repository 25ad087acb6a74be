"""Reversible residual blocks (RevNet, Reformer): the backward pass recomputes activations."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import check_rank, check_same_shape, clone_initializer
from keras_transformer.layers.block_base import BlockBase
from keras_transformer.layers.feed_forward import FeedForward

# Backends on which `keras.ops.custom_gradient` and a vector-Jacobian product
# are available, so the reversible backward can replace ordinary backprop.
RECOMPUTING_BACKENDS = ("tensorflow", "jax", "torch")


@keras.saving.register_keras_serializable(package="keras_transformer")
class ReversibleBlock(BlockBase):
    """A reversible Transformer layer on two streams (Reformer's RevNet block).

    `y1 = x1 + F(x2)` and `y2 = x2 + G(y1)`, where `F(x) =
    dropout(attention(LayerNorm(x)))` is pre-LN self-attention and `G(x) =
    dropout(FeedForward(LayerNorm(x)))` the pre-LN feed-forward network. The
    inputs follow from the outputs, `x2 = y2 - G(y1)` and `x1 = y1 - F(x2)`
    (`inverse`), so a stack of such blocks need not keep its activations for
    backpropagation: `reversible_sequence` recomputes each block's inputs from
    its outputs on the way back, then the vector-Jacobian products of `F` and
    `G`. The block's own `call` runs through `reversible_sequence` too.

    The attention is chosen as in `EncoderBlock`: `attention="full"`
    (`MultiHeadAttention`, the default), `"lsh"` (`LSHAttention`, Reformer's
    pairing) or `"bigbird"`, built with `attention_options`. It is called as
    `attention(h, attention_mask=attention_mask, key_mask=padding_mask,
    training=training)`.

    Dropout is replayed exactly in the recomputation: at every training call
    the block draws fresh seeds for the dropout of `F` and of `G` from its own
    `SeedGenerator` (outside the recomputed function), and both the forward
    pass and the recomputation run with them. On PyTorch, Keras ignores the
    seed state of a layer built with `seed=None` and draws from torch's
    global generator instead; the block therefore gives its default
    attention and its dropout layers a seed (their state is replaced at every
    call anyway).

    Args:
        num_heads, intermediate_dim, dropout, activation, layer_norm_epsilon,
        kernel_initializer, bias_initializer, attention, attention_options:
            as `EncoderBlock`.
        norm_first: must be True: a reversible block is pre-LN (a LayerNorm
            after the residual sum could not be inverted).
        seed: seed of the block's dropout seeds.

    Call arguments:
        x1, x2: the two streams, `(batch, length, hidden_dim)` each.
        padding_mask: `(batch, length)`, True at real tokens; defaults to the
            Keras mask of `x1`.
        attention_mask: passed on to the attention layer, True = may attend.
        training: whether dropout is active.

    Returns:
        `(y1, y2)`.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.layers.reversible import ReversibleBlock
    >>> block = ReversibleBlock(num_heads=2, intermediate_dim=32)
    >>> x1, x2 = np.random.default_rng(0).normal(size=(2, 2, 5, 16)).astype("float32")
    >>> y1, y2 = block(x1, x2)
    >>> r1, r2 = block.inverse(y1, y2)  # the inputs, recomputed from the outputs
    >>> bool(np.allclose(keras.ops.convert_to_numpy(r1), x1, atol=1e-5))
    True
    """

    recompute_gradients = True  # False: ordinary backprop through stored activations

    def __init__(self, num_heads: int, intermediate_dim: int, *args,
                 norm_first: bool = True, seed: int | None = None, **kwargs):
        # Every other argument is `BlockBase`'s; only the LN placement is fixed.
        if not norm_first:
            raise ValueError(
                "`norm_first` must be True for a reversible block: it normalizes the "
                "input of each residual branch (pre-LN); a LayerNorm after the residual "
                "sum (post-LN) cannot be inverted."
            )
        super().__init__(num_heads, intermediate_dim, *args, norm_first=True, **kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, x1_shape, x2_shape=None):
        check_rank("x1", x1_shape, 3, "(batch, length, hidden_dim)")
        if x2_shape is not None:
            check_rank("x2", x2_shape, 3, "(batch, length, hidden_dim)")
        options = dict(self.attention_options)
        if self.attention == "full":
            options.setdefault("seed", 0)  # see the class docstring (PyTorch)
        self.self_attention = self._attention(
            "self_attention", x1_shape, kind=self.attention, options=options)
        self.self_attention_norm = self._norm("self_attention_norm", x1_shape)
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            self.activation,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(x1_shape)
        self.feed_forward_norm = self._norm("feed_forward_norm", x1_shape)
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, seed=0, dtype=self.dtype_policy, name="residual_dropout")
        self.built = True

    def call(self, x1, x2, padding_mask=None, attention_mask=None, training=None, mask=None,
             x1_mask=None):
        check_same_shape("x2", x2.shape, "x1", x1.shape, "(batch, length, hidden_dim)")
        padding_mask = masks.resolve_padding_mask("padding_mask", padding_mask, mask, x1_mask,
                                                  length=x1.shape[1])
        return reversible_sequence(
            [self], x1, x2, padding_mask=padding_mask, attention_mask=attention_mask,
            training=training, recompute=self.recompute_gradients,
        )

    def inverse(self, y1: Tensor, y2: Tensor, padding_mask: Tensor | None = None,
                attention_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The inputs `(x1, x2)` that give outputs `(y1, y2)` (without dropout, as at inference)."""
        y1, y2 = ops.convert_to_tensor(y1), ops.convert_to_tensor(y2)  # NumPy inputs too
        x2 = y2 - self._branch(1, y1, padding_mask, attention_mask)
        x1 = y1 - self._branch(0, x2, padding_mask, attention_mask)
        return x1, x2

    def branches(self, x2: Tensor, y1: Tensor, padding_mask: Tensor | None = None,
                 attention_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """`(F(x2), G(y1))` without dropout: the two residual branches, for inspection."""
        return (self._branch(0, x2, padding_mask, attention_mask),
                self._branch(1, y1, padding_mask, attention_mask))

    # ------------------------------------------------------------ stateless parts

    def _part_layers(self, part):
        if part == 0:
            return self.self_attention_norm, self.self_attention, self.residual_dropout
        return self.feed_forward_norm, self.feed_forward, self.residual_dropout

    def _part_variables(self, part):
        """(trainable variables, other variables) of branch `part` (0 = F, 1 = G)."""
        layers = self._part_layers(part)
        trainable = [v for layer in layers for v in layer.trainable_variables]
        others = [v for layer in layers for v in layer.non_trainable_variables]
        return trainable, others

    def _fixed_values(self, part, reseed=False):
        """(variable, value) for the branch's non-trainable variables, read now.

        With `reseed`, every random-seed state of the branch gets a fresh seed
        from the block's own generator instead of its value: the forward pass
        and its recomputation then draw the same dropout masks.
        """
        fixed = []
        for variable in self._part_variables(part)[1]:
            if reseed and variable.name.endswith("seed_generator_state"):
                fixed.append((variable, self.seed_generator.next()))
            else:
                fixed.append((variable, variable.value))
        return fixed

    def _branch(self, part, x, padding_mask=None, attention_mask=None, training=False,
                values=None, fixed=None):
        """F(x) (part 0) or G(x) (part 1), its trainable variables set to `values` (default: theirs)."""
        trainable = self._part_variables(part)[0]
        values = [v.value for v in trainable] if values is None else values
        fixed = self._fixed_values(part) if fixed is None else fixed
        with keras.StatelessScope(state_mapping=[*zip(trainable, values), *fixed]):
            if part == 1:
                h = self.feed_forward(self.feed_forward_norm(x))
            else:
                h = self.self_attention(self.self_attention_norm(x), attention_mask=attention_mask,
                                        key_mask=padding_mask, training=training)
            return self.residual_dropout(h, training=training)

    # ------------------------------------------------------------------ plumbing

    def compute_output_shape(self, x1_shape, x2_shape=None):
        return tuple(x1_shape), tuple(x2_shape if x2_shape is not None else x1_shape)

    def compute_output_spec(self, x1, x2, *args, **kwargs):
        return (keras.KerasTensor(x1.shape, dtype=self.compute_dtype),
                keras.KerasTensor(x2.shape, dtype=self.compute_dtype))

    def hyperparameters(self) -> dict:
        """The block's own constructor arguments (what a stack of such blocks stores)."""
        return {**super().hyperparameters(), "seed": self.seed}


def reversible_sequence(blocks: Sequence[ReversibleBlock], x1: Tensor, x2: Tensor,
                        padding_mask: Tensor | None = None, attention_mask: Tensor | None = None,
                        training: bool | None = None,
                        recompute: bool = True) -> tuple[Tensor, Tensor]:
    """Apply `ReversibleBlock`s in order to the streams `(x1, x2)`; return `(y1, y2)`.

    With `recompute` (on TensorFlow, JAX and PyTorch) the whole sequence is
    one `keras.ops.custom_gradient` function whose backward pass keeps only
    the final outputs and the weights: going from the last block to the
    first, it rebuilds each block's inputs from its outputs (`x2 = y2 -
    G(y1)`, `x1 = y1 - F(x2)`) and takes the vector-Jacobian products of `G`
    and `F` at the rebuilt points (TensorFlow `GradientTape`, `jax.vjp`,
    `torch.autograd.grad`). The activation memory of backpropagation then
    no longer grows with depth. The gradients equal those of ordinary
    backprop up to the rounding of the reconstruction, which grows in half
    precision. A block may appear more than once (shared weights); its
    weights' gradients are summed. Without `recompute`, or on a backend
    without autodiff, ordinary backprop runs through the same computation.

    PyTorch runs the backward through Keras' `custom_gradient` wrapper
    (`torch.autograd.Function`), which keeps the inputs and outputs of the
    sequence; under `torch.compile` it is untested.

    Example (the same outputs as calling the blocks one after the other):
    >>> import keras
    >>> import numpy as np
    >>> from keras_transformer.layers.reversible import ReversibleBlock, reversible_sequence
    >>> blocks = [ReversibleBlock(num_heads=2, intermediate_dim=32) for _ in range(2)]
    >>> x = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(1, 4, 16)), "float32")
    >>> one_by_one = blocks[1](*blocks[0](x, x))  # builds the blocks too
    >>> y1, y2 = reversible_sequence(blocks, x, x)
    >>> same = np.allclose(keras.ops.convert_to_numpy(y2), keras.ops.convert_to_numpy(one_by_one[1]))
    >>> bool(same)
    True
    """
    unique = list({id(block): block for block in blocks}.values())
    slot = [unique.index(block) for block in blocks]
    training = bool(training)
    # Read everything stateful here, outside the custom-gradient function:
    # the weights (its differentiable inputs) and, per depth, the dropout seeds.
    weights = [[[v.value for v in block._part_variables(part)[0]] for part in (0, 1)]
               for block in unique]
    sizes = [(len(f), len(g)) for f, g in weights]
    flat = [value for f, g in weights for value in (*f, *g)]
    fixed = [[block._fixed_values(part, reseed=training) for part in (0, 1)] for block in blocks]

    def split(values):
        """Flat weight values -> per unique block, (F values, G values)."""
        out, start = [], 0
        for f_size, g_size in sizes:
            out.append((values[start:start + f_size],
                        values[start + f_size:start + f_size + g_size]))
            start += f_size + g_size
        return out

    def branch(depth, part, x, values):
        return blocks[depth]._branch(part, x, padding_mask, attention_mask, training,
                                     values=values, fixed=fixed[depth][part])

    def forward(a1, a2, values):
        per_block = split(values)
        for depth in range(len(blocks)):
            f_values, g_values = per_block[slot[depth]]
            a1 = a1 + branch(depth, 0, a2, f_values)
            a2 = a2 + branch(depth, 1, a1, g_values)
        return a1, a2

    if not recompute or keras.backend.backend() not in RECOMPUTING_BACKENDS:
        return forward(x1, x2, flat)

    @ops.custom_gradient
    def run(a1, a2, *values):
        y1, y2 = forward(a1, a2, values)

        def grad(*args, upstream=None):
            if upstream is None:  # TensorFlow and JAX pass the upstream gradient alone
                (upstream,) = args
            d1, d2 = upstream[0], upstream[1]
            per_block = split(values)
            grads = [[None] * (f + g) for f, g in sizes]
            b1, b2 = y1, y2
            for depth in reversed(range(len(blocks))):
                index = slot[depth]
                f_values, g_values = per_block[index]
                g_out, (dx, *dg) = _vjp(
                    lambda h, *w, depth=depth: branch(depth, 1, h, w), [b1, *g_values], d2)
                b2 = b2 - g_out
                d1 = d1 + dx
                f_out, (dx, *df) = _vjp(
                    lambda h, *w, depth=depth: branch(depth, 0, h, w), [b2, *f_values], d1)
                b1 = b1 - f_out
                d2 = d2 + dx
                for i, g in enumerate([*df, *dg]):
                    grads[index][i] = g if grads[index][i] is None else grads[index][i] + g
            return (d1, d2, *[g for block_grads in grads for g in block_grads])

        return ops.stack([y1, y2]), grad

    stacked = run(x1, x2, *flat)
    return stacked[0], stacked[1]


def _vjp(fn, primals, cotangent):
    """`(fn(*primals), d<fn, cotangent>/d primals)` on the active backend (zeros where unconnected)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(primals)
            out = fn(*primals)
        grads = tape.gradient(out, primals, output_gradients=cotangent,
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return out, grads
    if backend == "jax":
        import jax

        out, pullback = jax.vjp(fn, *primals)
        return out, list(pullback(cotangent))
    import torch

    with torch.enable_grad():
        leaves = [p.detach().requires_grad_(True) for p in primals]
        out = fn(*leaves)
        grads = torch.autograd.grad(out, leaves, cotangent, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads)]
    return out.detach(), grads
