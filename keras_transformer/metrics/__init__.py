"""The scores the chapters report, in one place.

- `bleu`: corpus BLEU through sacreBLEU (chapter 03);
- `classification`: Matthews correlation, confusion matrix, accuracy (CoLA, chapter 05);
- `replaced_tokens`: an ELECTRA discriminator's accuracy, baseline and AUC (chapter 06);
- `squad`: SQuAD v1.1's exact match and F1 (chapter 05).
"""

from keras_transformer.metrics.bleu import Bleu, corpus_bleu
from keras_transformer.metrics.classification import classification_scores, confusion_matrix, matthews_corrcoef
from keras_transformer.metrics.replaced_tokens import replaced_token_scores
from keras_transformer.metrics.squad import exact_match, normalize_answer, squad_scores, token_f1

__all__ = [
    "Bleu",
    "classification_scores",
    "confusion_matrix",
    "corpus_bleu",
    "exact_match",
    "matthews_corrcoef",
    "normalize_answer",
    "replaced_token_scores",
    "squad_scores",
    "token_f1",
]
