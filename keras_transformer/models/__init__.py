"""Model families built from `keras_transformer.layers`."""

from keras_transformer.data.checkpoint_folders import minilm_checkpoint_dir
from keras_transformer.models.bert import (
    BERT,
    BertClassifier,
    BertClassifierHead,
    BertMaskedLM,
    BertMaskedLMHead,
    BertNextSentenceHead,
    BertPretrainer,
    BertSpanHead,
    BertSpanQA,
)
from keras_transformer.models.decoding import (
    beam_search,
    shift_right,
    teacher_forcing_batch,
)
from keras_transformer.models.distillation import Distiller, distil_student
from keras_transformer.models.electra import ElectraDiscriminatorHead, ElectraPretrainer
from keras_transformer.models.gpt import GPT
from keras_transformer.models.rnn_attention import RNNAttentionSeq2Seq
from keras_transformer.models.seq2seq import Seq2SeqTransformer

__all__ = [
    "BERT",
    "BertClassifier",
    "BertClassifierHead",
    "BertMaskedLM",
    "BertMaskedLMHead",
    "BertNextSentenceHead",
    "BertPretrainer",
    "BertSpanHead",
    "BertSpanQA",
    "Distiller",
    "ElectraDiscriminatorHead",
    "ElectraPretrainer",
    "GPT",
    "RNNAttentionSeq2Seq",
    "Seq2SeqTransformer",
    "beam_search",
    "distil_student",
    "minilm_checkpoint_dir",
    "shift_right",
    "teacher_forcing_batch",
]
