"""Keras' own layer contract (`run_layer_test`): serialization, build, symbolic and eager calls, a training step, mixed precision."""

from __future__ import annotations

import numpy as np
from keras.src import testing

from keras_transformer import layers as L


class LayerContractTest(testing.TestCase):
    """Each test runs Keras' standard battery of layer checks on one of our layers.

    Two-input calls (cross-attention) are not run here: `run_layer_test` feeds
    dict inputs to `build` under the call-argument names, which no two-input
    Keras layer accepts. Their save/load, mixed precision and compiled training
    are covered by test_serialization, test_precision and test_jit.
    """

    def test_multi_head_attention_self(self):
        """Self-attention MultiHeadAttention passes Keras' layer checks."""
        self.run_layer_test(L.MultiHeadAttention, {"num_heads": 2, "key_dim": 4},
                            input_shape=(2, 3, 8), expected_output_shape=(2, 3, 8),
                            expected_num_trainable_weights=4, supports_masking=True)

    def test_feed_forward(self):
        """FeedForward passes Keras' layer checks."""
        self.run_layer_test(L.FeedForward, {"intermediate_dim": 6}, input_shape=(2, 3, 4),
                            expected_output_shape=(2, 3, 4), expected_num_trainable_weights=4)

    def test_sinusoidal_position_encoding(self):
        """SinusoidalPositionEncoding passes Keras' layer checks (no weights)."""
        self.run_layer_test(L.SinusoidalPositionEncoding, {}, input_shape=(2, 3, 4),
                            expected_output_shape=(2, 3, 4), expected_num_trainable_weights=0,
                            run_training_check=False)

    def test_position_embedding(self):
        """PositionEmbedding passes Keras' layer checks."""
        self.run_layer_test(L.PositionEmbedding, {"max_length": 5}, input_shape=(2, 3, 4),
                            expected_output_shape=(2, 3, 4), expected_num_trainable_weights=1)

    def test_token_and_position_embedding(self):
        """TokenAndPositionEmbedding (factorized width, mask_zero) passes Keras' layer checks."""
        self.run_layer_test(
            L.TokenAndPositionEmbedding,
            {"vocab_size": 7, "max_length": 5, "hidden_dim": 4, "embedding_dim": 2,
             "mask_zero": True},
            input_data=np.array([[1, 2, 0]] * 2),
            expected_output_shape=(2, 3, 4), expected_num_trainable_weights=4,
            supports_masking=True, run_training_check=False,
        )

    def test_encoder_block(self):
        """EncoderBlock passes Keras' layer checks."""
        self.run_layer_test(L.EncoderBlock, {"num_heads": 2, "intermediate_dim": 6},
                            input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))

    def test_decoder_block(self):
        """DecoderBlock (decoder-only, pre-LN) passes Keras' layer checks."""
        self.run_layer_test(L.DecoderBlock, {"num_heads": 2, "intermediate_dim": 6,
                                             "norm_first": True},
                            input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))

    def test_encoder(self):
        """Encoder passes Keras' layer checks."""
        self.run_layer_test(L.Encoder, {"num_layers": 2, "num_heads": 2, "intermediate_dim": 6,
                                        "norm_first": True},
                            input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))

    def test_decoder(self):
        """Decoder (shared weights) passes Keras' layer checks."""
        self.run_layer_test(L.Decoder, {"num_layers": 2, "num_heads": 2, "intermediate_dim": 6,
                                        "share_weights": True},
                            input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))
