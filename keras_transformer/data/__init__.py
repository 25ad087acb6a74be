"""Dataset loaders and batching: local data folder or checksummed download."""

from keras_transformer.data.byte_bpe import byte_level_bpe
from keras_transformer.data.byte_bpe import train_byte_level_bpe
from keras_transformer.data.char_corpus import CharCorpus
from keras_transformer.data.files import file_sha256, resolve_data_file
from keras_transformer.data.full_sentences import pack_full_sentences
from keras_transformer.data.lm_batches import lm_batch, lm_eval_windows
from keras_transformer.data.mlm_masking import MaskedLMData, masked_lm
from keras_transformer.data.pretraining_corpus import pretraining_articles
from keras_transformer.data.sentence_pairs import (
    join_sentences,
    next_sentence_pairs,
    sentence_order_pairs,
    split_sentences,
)
from keras_transformer.data.synthetic import (
    recall_examples,
    reversal_examples,
    step_rng,
    topic_pair_examples,
)
from keras_transformer.data.tiny_shakespeare import load_tiny_shakespeare
from keras_transformer.data.wikitext2 import load_wikitext2_articles
