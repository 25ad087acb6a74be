"""Model families built from `keras_transformer.layers`."""

from keras_transformer.models.bert import BERT
from keras_transformer.models.bert_heads import BertClassifierHead, BertMaskedLMHead, BertNextSentenceHead, BertSpanHead
from keras_transformer.models.bert_tasks import BertClassifier, BertPretrainer, BertSpanQA
from keras_transformer.models.gpt import GPT
from keras_transformer.models.hf_checkpoint import minilm_checkpoint_dir
from keras_transformer.models.rnn_attention import RNNAttentionSeq2Seq
from keras_transformer.models.seq2seq import Seq2SeqTransformer, beam_search, shift_right, teacher_forcing_batch

__all__ = ["GPT", "RNNAttentionSeq2Seq", "Seq2SeqTransformer", "beam_search", "shift_right", "teacher_forcing_batch"]
__all__ += ["BERT", "BertClassifier", "BertClassifierHead", "BertMaskedLMHead", "BertNextSentenceHead", "BertPretrainer", "BertSpanHead", "BertSpanQA", "minilm_checkpoint_dir"]
