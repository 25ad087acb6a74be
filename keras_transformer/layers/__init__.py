"""Transformer layers, one idea per module."""

from keras_transformer.layers.additive_attention import AdditiveAttention
from keras_transformer.layers.bigbird_attention import BigBirdAttention
from keras_transformer.layers.decoder import Decoder
from keras_transformer.layers.decoder_block import DecoderBlock
from keras_transformer.layers.encoder import Encoder
from keras_transformer.layers.encoder_block import EncoderBlock
from keras_transformer.layers.feed_forward import FeedForward
from keras_transformer.layers.lsh_attention import LSHAttention
from keras_transformer.layers.multi_head_attention import MultiHeadAttention
from keras_transformer.layers.position_embedding import PositionEmbedding
from keras_transformer.layers.reversible import ReversibleBlock
from keras_transformer.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from keras_transformer.layers.token_and_position_embedding import TokenAndPositionEmbedding

__all__ = [
    "AdditiveAttention",
    "BigBirdAttention",
    "Decoder",
    "DecoderBlock",
    "Encoder",
    "EncoderBlock",
    "FeedForward",
    "LSHAttention",
    "MultiHeadAttention",
    "PositionEmbedding",
    "ReversibleBlock",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
]
