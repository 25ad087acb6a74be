"""BERT and its family: the backbone, its heads, task models and checkpoint I/O.

- `backbone`: `BERT`, the post-LN encoder with token + segment + position embeddings;
- `heads`: masked-LM, next-sentence, classifier and span heads;
- `tasks`: models that put a head on a backbone (`BertPretrainer`, `BertMaskedLM`,
  `BertClassifier`, `BertSpanQA`);
- `checkpoint`: Hugging Face BERT folders (`config.json` + `model.safetensors`);
- `folder`: the package's own backbone + vocabulary folders (imported on demand:
  its tokenizer needs keras-hub and TensorFlow).
"""

from keras_transformer.models.bert.backbone import BERT
from keras_transformer.models.bert.heads import (
    BertClassifierHead,
    BertMaskedLMHead,
    BertNextSentenceHead,
    BertSpanHead,
)
from keras_transformer.models.bert.tasks import (
    BertClassifier,
    BertMaskedLM,
    BertPretrainer,
    BertSpanQA,
)

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
]
