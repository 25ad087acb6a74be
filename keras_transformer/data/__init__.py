"""Dataset loaders and batching: local data folder or checksummed download."""

from keras_transformer.data.char_corpus import CharCorpus
from keras_transformer.data.files import file_sha256
from keras_transformer.data.files import resolve_data_file
from keras_transformer.data.lm_batches import lm_batch
from keras_transformer.data.lm_batches import lm_eval_windows
from keras_transformer.data.tiny_shakespeare import load_tiny_shakespeare
from keras_transformer.data.sentence_pairs import next_sentence_pairs
from keras_transformer.data.sentence_pairs import sentence_order_pairs
from keras_transformer.data.synthetic import recall_examples
from keras_transformer.data.synthetic import reversal_examples
from keras_transformer.data.synthetic import step_rng
