"""`keras_transformer.metrics.corpus_bleu`: sacrebleu's BLEU with its signature."""

import pytest

from keras_transformer.metrics import Bleu, classification_scores, corpus_bleu

# sacrebleu's README example: one system, two reference streams; BLEU = 48.53.
HYPOTHESES = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REFERENCES = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]


def test_sacrebleu_readme_example_scores_48_53_with_its_signature():
    """sacrebleu's own README example gives 48.53 and a signature naming 2 references and 13a."""
    result = corpus_bleu(HYPOTHESES, REFERENCES)
    assert isinstance(result, Bleu)
    assert result.score == pytest.approx(48.53, abs=0.005)
    assert result.signature.startswith("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    score, signature, _ = result  # unpacks as (score, signature, details)
    assert score == result.score and signature == result.signature


def test_identical_output_scores_100():
    """A system that outputs the references exactly scores 100."""
    references = ["a man in an orange hat starring at something .", "two dogs play in the snow"]
    assert corpus_bleu(references, references).score == pytest.approx(100.0)


def test_output_sharing_no_word_with_the_references_scores_0():
    """A system whose output shares no word with the references scores 0."""
    assert corpus_bleu(["red green blue yellow"], ["one two three four"]).score == 0.0


def test_lowercase_ignores_case_and_says_so_in_the_signature():
    """With lowercase=True case differences cost nothing, and the signature says case:lc."""
    result = corpus_bleu(["a boston terrier runs on green grass ."],
                         ["A Boston Terrier runs on green grass."], lowercase=True)
    assert result.score == pytest.approx(100.0)
    assert "case:lc" in result.signature
    assert corpus_bleu(["a boston terrier runs on green grass ."],
                       ["A Boston Terrier runs on green grass."]).score < 100.0


def test_reference_count_must_match_the_hypotheses():
    """A reference stream of another length is a ValueError that says one reference per hypothesis."""
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        corpus_bleu(["a b c", "d e f"], ["a b c"])


@pytest.mark.parametrize("hypotheses, references, match", [
    ("the cat sat on the mat", "the cat sat on the mat", "`hypotheses` must be"),
    (["the cat"], "the cat", "`references` must be"),
    ([], [[]], "`hypotheses` is empty"),
    (["the cat"], [["the cat"], [None]], r"`references\[1\]\[0\]` is a NoneType"),
])
def test_bad_inputs_name_the_argument(hypotheses, references, match):
    """A lone string for a list of sentences, an empty corpus or a non-string reference is a ValueError naming it, not a score."""
    with pytest.raises(ValueError, match=match):
        corpus_bleu(hypotheses, references)


@pytest.mark.parametrize("labels, logits, match", [
    ([0, -1], [[2.0, 0.0], [0.0, 2.0]], r"`labels` must be class ids in \[0, classes=2\)"),
    ([0, 5], [[2.0, 0.0], [0.0, 2.0]], r"`labels` must be class ids in \[0, classes=2\)"),
    ([0, 1], [[float("nan"), 0.0], [0.0, 2.0]], "`logits` must be finite"),
])
def test_classification_scores_refuse_impossible_labels_and_nan_logits(labels, logits, match):
    """Labels outside the logits' classes or NaN logits raise a ValueError instead of scoring garbage."""
    with pytest.raises(ValueError, match=match):
        classification_scores(labels, logits)
