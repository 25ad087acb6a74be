"""GPT: a decoder-only Transformer language model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

from keras_transformer import masks
from keras_transformer._typing import Tensor
from keras_transformer.layers import Decoder, TokenAndPositionEmbedding
from keras_transformer.layers._checks import (
    check_divisible,
    check_pad_id,
    check_positive,
    check_rank,
    check_rate,
    check_token_ids,
    is_integer,
)
from keras_transformer.models.builds_on_demand import BuildsOnDemand
from keras_transformer.models.decoding import forbid_token, resolve_sampler

if TYPE_CHECKING:
    import keras_hub
    from numpy.typing import ArrayLike


@keras.saving.register_keras_serializable(package="keras_transformer")
class GPT(BuildsOnDemand, keras.Model):
    """A GPT-2-style causal language model.

    Token + learned position embeddings, `num_layers` pre-LN decoder blocks
    with causal self-attention and tanh-GELU feed-forward layers, a final
    LayerNorm, and output logits computed with the (tied) token embedding
    table. Weights start from N(0, 0.02), as in GPT-2 and nanoGPT.

    Args:
        vocab_size: number of token ids.
        max_length: longest sequence (prompt + generated tokens).
        num_layers, num_heads, hidden_dim, intermediate_dim: the size.
        dropout: dropout on embeddings, attention weights and residual branches.
        pad_id: id treated as padding (masked as a key), or `None` when every
            id is a real token (e.g. a character vocabulary without a pad).
        layer_norm_epsilon: LayerNorm epsilon.
        use_bias: whether the Dense projections have biases and the
            LayerNorms offsets, as in GPT-2 (nanoGPT trains without: its
            `bias=False`).

    Call arguments:
        token_ids: int `(batch, length)`.

    Returns:
        Logits `(batch, length, vocab_size)`; position `t` predicts token `t + 1`
        from tokens `0..t` only.

    Example:
    >>> import numpy as np
    >>> gpt = GPT(vocab_size=65, max_length=32, num_layers=2, num_heads=2,
    ...           hidden_dim=16, intermediate_dim=64, pad_id=None)
    >>> tuple(gpt(np.zeros((1, 8), "int32")).shape)
    (1, 8, 65)
    >>> gpt.generate(np.array([[1, 2, 3]]), max_new_tokens=5).shape
    (1, 8)
    """

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.0,
        pad_id: int | None = 0,
        layer_norm_epsilon: float = 1e-5,
        use_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(num_heads=num_heads, hidden_dim=hidden_dim)
        check_divisible(hidden_dim, num_heads)  # now, not at the first call
        check_rate("dropout", dropout)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.pad_id = pad_id
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_bias = use_bias
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.embeddings = TokenAndPositionEmbedding(
            vocab_size,
            max_length,
            hidden_dim,
            embeddings_initializer=init,
            dtype=self.dtype_policy,
            name="embeddings",
        )
        check_pad_id(pad_id, vocab_size)  # after the table checked vocab_size
        self.embeddings_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self._named_samplers = {}
        self._decode_functions = {}
        self.decoder = Decoder(
            num_layers,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation="gelu_approximate",
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=True,
            kernel_initializer=init,
            use_bias=use_bias,
            dtype=self.dtype_policy,
            name="decoder",
        )

    def build(self, token_ids_shape):
        check_rank("token_ids", token_ids_shape, 2, "(batch, length)")
        if self.built:  # Rebuilding would replace the blocks' weights with new ones.
            return
        self.embeddings.build(token_ids_shape)
        self.decoder.build((*token_ids_shape, self.hidden_dim))
        self.built = True

    def call(self, token_ids, training=None):
        x = self.embeddings_dropout(self.embeddings(token_ids), training=training)
        x = self.decoder(x, decoder_padding_mask=self._padding_mask(token_ids), training=training)
        return self._logits(x)

    def call_with_cache(
        self, token_ids: Tensor, cache: Tensor, cache_update_index: int | Tensor
    ) -> tuple[Tensor, Tensor]:
        """Run `token_ids` placed at `cache_update_index`; return `(logits, cache)`.

        `cache` comes from `init_cache`. Right-padded prompts need no padding
        mask here: a causal query never sees the pads after it, and each pad
        slot is overwritten by the token generated there before it is read.
        """
        self.ensure_built()
        x = self.embeddings(token_ids, start_index=cache_update_index)
        x, cache = self.decoder(x, cache=cache, cache_update_index=cache_update_index)
        return self._logits(x), cache

    def init_cache(self, batch_size: int, length: int | None = None) -> Tensor:
        """An all-zero KV cache for `batch_size` sequences of up to `length` tokens."""
        return self.decoder.init_cache(
            batch_size, length or self.max_length, hidden_dim=self.hidden_dim
        )

    def fresh_input_shape(self) -> tuple:
        return (None, None)

    def generate(
        self,
        prompt_ids: ArrayLike,
        max_new_tokens: int,
        sampler: str | keras_hub.samplers.Sampler = "greedy",
        stop_token_ids: int | Sequence[int] | None = None,
        jit_compile: bool = True,
    ) -> np.ndarray:
        """Extend each prompt by `max_new_tokens` tokens, using the KV cache.

        Args:
            prompt_ids: int `(batch, prompt_length)`. With `pad_id` set, rows may
                be right-padded with `pad_id` to a common length; each row then
                continues from its own last real token. Pads before a real
                token (left or interior padding) raise a ValueError.
            max_new_tokens: tokens to add after the longest prompt.
            sampler: a keras-hub sampler or its name: `"greedy"`, `"top_k"`,
                `"top_p"`, `"random"`, `"beam"`... (`keras_hub.samplers.get`).
            stop_token_ids: optional id, or ids, that end generation once
                every row produced one.
            jit_compile: on TensorFlow, compile the decoding loop with XLA
                (fastest when generating many times) or run it as a graph
                (`False`: for one sample, it is ready sooner and its compilation
                takes less memory). Other backends compile it either way.

        Returns:
            int32 `(batch, prompt_length + max_new_tokens)`: prompts and continuations;
            `pad_id` is never generated. An empty batch gives an empty array.
        """
        prompt_ids = np.asarray(prompt_ids)
        check_rank("prompt_ids", prompt_ids.shape, 2, "(batch, prompt_length)")
        check_token_ids(prompt_ids, self.vocab_size, "prompt_ids")  # XLA would gather garbage
        _check_max_new_tokens(max_new_tokens)
        stop_token_ids = self._stop_token_ids(stop_token_ids)
        batch, prompt_length = prompt_ids.shape
        total = prompt_length + max_new_tokens
        if total > self.max_length:
            raise ValueError(
                f"`max_new_tokens` must be >= 1 and prompt length ({prompt_length}) + "
                f"max_new_tokens ({max_new_tokens}) <= max_length ({self.max_length})."
            )
        if batch == 0:  # nothing to generate (and no row to take a length from)
            return np.zeros((0, total), "int32")
        tokens = np.concatenate(
            [prompt_ids, np.zeros((batch, max_new_tokens), prompt_ids.dtype)], axis=1
        ).astype("int32")
        is_prompt = np.zeros_like(tokens, dtype=bool)
        is_prompt[:, :prompt_length] = (
            True if self.pad_id is None else prompt_ids != self.pad_id
        )
        lengths = _right_padded_lengths(is_prompt[:, :prompt_length])
        self.ensure_built()
        if isinstance(sampler, str):
            if sampler not in self._named_samplers:
                self._named_samplers[sampler] = resolve_sampler(sampler)
            sampler = self._named_samplers[sampler]
        decode = self._decode_function(sampler, stop_token_ids, jit_compile)
        out = decode(
            ops.convert_to_tensor(tokens),
            ops.convert_to_tensor(is_prompt),
            ops.convert_to_tensor(int(lengths.min()), "int32"),
        )
        return ops.convert_to_numpy(out)

    def generate_long(self, prompt_ids: ArrayLike, max_new_tokens: int,
                      sampler: str | keras_hub.samplers.Sampler = "greedy", context: int | None = None,
                      jit_compile: bool = True) -> np.ndarray:
        """Generate any number of tokens, `max_length` positions at a time.

        Positions past `max_length` have no embedding, so long text is written
        in rounds: each round re-reads the last `context` tokens (default
        `max_length // 2`) as its prompt and adds `max_length - context` more
        with `generate`. Every round fills a whole window (the last one's
        surplus is dropped), so one compiled decoding loop serves them all.
        Rows must not be padded: a prompt holding `pad_id` raises a
        ValueError. `jit_compile` is `generate`'s.

        Returns:
            int32 `(batch, prompt_length + max_new_tokens)`.
        """
        prompt_ids = np.asarray(prompt_ids).astype("int32")
        check_rank("prompt_ids", prompt_ids.shape, 2, "(batch, prompt_length)")
        _check_max_new_tokens(max_new_tokens)
        if self.pad_id is not None and np.any(prompt_ids == self.pad_id):
            # A window of a padded row would read the pads as context.
            raise ValueError(
                f"`prompt_ids` must not be padded for `generate_long`; found `pad_id` "
                f"({self.pad_id}). Generate each row alone, or use `generate`."
            )
        context = self.max_length // 2 if context is None else context
        if not is_integer(context) or not 1 <= context < self.max_length:
            raise ValueError(
                f"`context` must be an integer in [1, max_length) = [1, {self.max_length}); "
                f"got {context!r}."
            )
        tokens, total = prompt_ids, prompt_ids.shape[1] + max_new_tokens
        while tokens.shape[1] < total:
            window = tokens[:, -context:]
            # Always a full window, even when fewer tokens are left: one shape, one compilation.
            new = self.generate(window, self.max_length - window.shape[1], sampler=sampler,
                                jit_compile=jit_compile)
            tokens = np.concatenate([tokens, new[:, window.shape[1]:]], axis=1)
        return tokens[:, :total]

    def _stop_token_ids(self, stop_token_ids):
        """`stop_token_ids` as a tuple of ids (a single id too), or None; raise unless they are ids."""
        if stop_token_ids is None:
            return None
        ids = (stop_token_ids,) if is_integer(stop_token_ids) else stop_token_ids
        if not isinstance(ids, (list, tuple, np.ndarray)) or not all(
                is_integer(i) and 0 <= i < self.vocab_size for i in ids):
            raise ValueError(
                "`stop_token_ids` must be None, a token id or a sequence of token ids in "
                f"[0, vocab_size) = [0, {self.vocab_size}); got {stop_token_ids!r}."
            )
        return tuple(int(i) for i in ids) or None  # the sampler reads `ids[0]`

    def _decode_function(self, sampler, stop_token_ids, jit_compile):
        """Prefill the cache and run `sampler`: a graph (XLA if asked) on TensorFlow, compiled on JAX.

        Eager TensorFlow dispatches every op of every step from Python, about
        30 times slower than one compiled loop. Compiled functions are kept
        per sampler, so repeated calls of the same shapes do not retrace.
        """
        key = (id(sampler), tuple(stop_token_ids or ()), jit_compile)
        if key in self._decode_functions:
            return self._decode_functions[key][1]

        def decode(tokens, is_prompt, index):
            batch, total = tokens.shape
            _, cache = self.call_with_cache(tokens, self.init_cache(batch, total), 0)

            def next_logits(prompt, cache, index):
                # The prompt's own batch: a beam sampler runs num_beams rows per prompt.
                token = ops.slice(prompt, (0, index - 1), (ops.shape(prompt)[0], 1))
                logits, cache = self.call_with_cache(token, cache, index - 1)
                logits = logits[:, 0, :]
                if self.pad_id is not None:
                    logits = forbid_token(logits, self.pad_id)
                return logits, None, cache

            return sampler(
                next_logits, tokens, cache=cache, index=index, mask=is_prompt,
                stop_token_ids=stop_token_ids, model=self,
            )

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            decode = tf.function(decode, jit_compile=jit_compile)
        elif keras.backend.backend() == "jax":
            decode = self._jax_compiled(decode, sampler)
        self._decode_functions[key] = (sampler, decode)
        return decode

    def _jax_compiled(self, decode, sampler):
        """`decode` compiled once by `jax.jit`, the weights and the sampler's seed passed in.

        Run eagerly, every call traced and compiled the sampler's loop anew
        (chapter 04's 500-character sample took 17 s on a CPU). Read inside
        `jax.jit`, a variable would become a constant of the program; as
        arguments, one program serves weights that training changes later, and
        the sampler's advanced seed comes back out for the next call.
        """
        import jax

        model_variables = self.trainable_variables + self.non_trainable_variables  # one order for both

        def stateless(sampler_values, model_values, tokens, is_prompt, index):
            mapping = [*zip(sampler.variables, sampler_values), *zip(model_variables, model_values)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = decode(tokens, is_prompt, index)
            return out, [scope.get_current_value(v) for v in sampler.variables]

        compiled = jax.jit(stateless)

        def run(tokens, is_prompt, index):
            out, seeds = compiled([v.value for v in sampler.variables],
                                  [v.value for v in model_variables], tokens, is_prompt, index)
            for variable, value in zip(sampler.variables, seeds):
                variable.assign(value)
            return out

        return run

    def _padding_mask(self, token_ids):
        return None if self.pad_id is None else masks.padding_mask(token_ids, self.pad_id)

    def _logits(self, x):
        return ops.cast(self.embeddings.token_embedding(x, reverse=True), "float32")

    def compute_output_shape(self, token_ids_shape):
        return (*token_ids_shape, self.vocab_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_length": self.max_length,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "pad_id": self.pad_id,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "use_bias": self.use_bias,
        }


def _check_max_new_tokens(max_new_tokens: int) -> None:
    """Raise unless `max_new_tokens` is an integer >= 1 (a float would fail in NumPy's shapes)."""
    if not is_integer(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(f"`max_new_tokens` must be an int >= 1; got {max_new_tokens!r}.")


def _right_padded_lengths(is_real):
    """Real tokens per row of a `(batch, length)` mask; raise unless each row is real, then pads.

    Generation places every row's positions from 0 and lets row `i` write
    its first new token right after its real tokens, so a pad before a real
    token would be read as context and shift the positions after it.
    """
    lengths = is_real.sum(axis=1)
    if lengths.min() < 1:
        raise ValueError("`prompt_ids`: every prompt needs at least one real (non-pad) token.")
    misplaced = is_real != (np.arange(is_real.shape[1])[None] < lengths[:, None])
    if misplaced.any():
        rows = np.nonzero(misplaced.any(axis=1))[0]
        raise ValueError(
            "`prompt_ids` must be right-padded: every `pad_id` must come after the last "
            f"real token of its row; rows {rows.tolist()} have a pad before a real token."
        )
    return lengths
