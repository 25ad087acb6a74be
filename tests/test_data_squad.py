"""SQuAD loading, sliding windows and span decoding (`keras_transformer.data.squad`), on the real dev file."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_transformer.data import squad
from keras_transformer.data.bert_inputs import load_hf_tokenizer
from keras_transformer.metrics.squad import normalize_answer, squad_scores
from keras_transformer.models import minilm_checkpoint_dir
from tests.data_folder import DATA_DIR, needs_data

pytestmark = needs_data("squad_v1.1/dev-v1.1.json")


@pytest.fixture(scope="module")
def splits():
    return squad.squad_splits(DATA_DIR)


@pytest.fixture(scope="module")
def tokenizer():
    return squad.offsets_tokenizer(minilm_checkpoint_dir() / "vocab.txt")


def test_the_dev_file_splits_by_article(splits):
    """Without the train file, train is articles 1-38 and eval 39-48: 8,582 and 1,988 questions, no paragraph shared."""
    assert (len(splits["train"]), len(splits["eval"])) == (8582, 1988)
    assert not {e.title for e in splits["train"]} & {e.title for e in splits["eval"]}
    assert not {e.context for e in splits["train"]} & {e.context for e in splits["eval"]}
    assert sum(map(len, squad.article_paragraphs(splits["train"]))) == 1646


def test_offsets_tokenizer_gives_the_models_token_ids(splits, tokenizer):
    """The offsets tokenizer and the checkpoint's keras-hub tokenizer give the same ids."""
    texts = [e.context for e in splits["eval"][:40:4]] + [e.question for e in splits["eval"][:40]]
    reference = load_hf_tokenizer(minilm_checkpoint_dir())(texts)
    for text, expected in zip(texts, reference):
        assert tokenizer.encode(text, add_special_tokens=False).ids == list(np.asarray(expected))


@settings(max_examples=6, deadline=None)
@given(max_length=st.integers(48, 200), doc_stride=st.integers(8, 96), first=st.integers(0, 1900))
def test_windows_cover_the_context_and_labels_point_at_the_answer(
        splits, tokenizer, max_length, doc_stride, first):
    """Windows fit `max_length`, together hold every context token, and a labelled span's
    characters are the first gold answer (up to normalization); unlabelled windows miss it."""
    examples = splits["eval"][first:first + 60]
    w = squad.windows(examples, tokenizer, max_length, doc_stride, max_question_length=32)
    assert w.inputs["token_ids"].shape == (len(w), max_length)
    assert np.all(w.lengths <= max_length)
    for i, example in enumerate(examples):
        rows = np.flatnonzero(w.example_index == i)
        covered = {tuple(o) for r in rows for o in w.offsets[r] if o[0] >= 0}
        context_offsets = tokenizer.encode(example.context, add_special_tokens=False).offsets
        assert covered == {tuple(o) for o in context_offsets}
        answer = example.answers[0]
        start_char = example.answer_starts[0]
        for r in rows:
            s, e = w.start_positions[r], w.end_positions[r]
            held = [o for o in w.offsets[r] if o[0] >= 0]
            inside = held[0][0] <= start_char and held[-1][1] >= start_char + len(answer)
            if s == 0:
                assert e == 0 and not inside
            else:
                assert inside
                text = example.context[w.offsets[r, s, 0]:w.offsets[r, e, 1]]
                assert normalize_answer(answer) in normalize_answer(text)


def oracle_scores(w, examples, **decode) -> dict:
    """EM/F1 of logits that peak exactly at the windows' labelled spans."""
    start = np.full(w.inputs["token_ids"].shape, -5.0)
    end = start.copy()
    labelled = w.start_positions > 0
    start[labelled, w.start_positions[labelled]] = 5.0
    end[labelled, w.end_positions[labelled]] = 5.0
    predictions = squad.best_spans(start, end, w.offsets, w.example_index,
                                   [e.context for e in examples], **decode)
    return squad_scores(predictions, [e.answers for e in examples])


def test_oracle_logits_decode_to_the_gold_answers(splits, tokenizer):
    """Logits that peak at the labelled spans decode back to the gold answers (EM near 100)."""
    examples = splits["eval"][:300]
    w = squad.windows(examples, tokenizer, max_length=128, doc_stride=64)
    scores = oracle_scores(w, examples)
    assert scores["exact_match"] > 97.0 and scores["f1"] > 98.0


def test_windows_without_room_for_context_raise(tokenizer, splits):
    """A `max_length` too short for question + context piece is a ValueError naming it."""
    with pytest.raises(ValueError, match="max_length"):
        squad.windows(splits["eval"][:2], tokenizer, max_length=40, max_question_length=64)


def test_span_decoding_rejects_logits_of_another_shape(splits, tokenizer):
    """Start/end logits that do not match the windows' offsets are a ValueError naming them."""
    w = squad.windows(splits["eval"][:3], tokenizer, max_length=96, doc_stride=48)
    logits = np.zeros((len(w), 95))
    with pytest.raises(ValueError, match="start_logits"):
        squad.best_spans(logits, logits, w.offsets, w.example_index,
                         [e.context for e in splits["eval"][:3]])


def test_byte_level_bpe_windows_decode_oracle_logits_to_the_gold_answers(splits):
    """With RoBERTa's byte-level BPE and its special tokens, labelled spans still decode back to the gold answers."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer(trim_offsets=True)
    bpe.train_from_iterator([e.context for e in splits["train"][::5]], vocab_size=2000,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                            show_progress=False)
    examples = splits["eval"][:200]
    w = squad.windows(examples, bpe, max_length=128, doc_stride=64,
                      special_tokens=("<s>", "</s>", "<pad>"))
    assert w.inputs["token_ids"][0, 0] == bpe.token_to_id("<s>")
    # A small BPE vocabulary spells long answers in more than 30 pieces.
    scores = oracle_scores(w, examples, max_answer_length=80)
    assert scores["exact_match"] > 97.0 and scores["f1"] > 98.0
    with pytest.raises(ValueError, match="special_tokens"):
        squad.windows(examples[:2], bpe, max_length=128)  # no [CLS] in a BPE vocabulary


def test_answer_sentence_holds_the_answers_start_and_tiles_the_paragraph(splits):
    """A question's sentences are its paragraph's text in order, and the gold one holds the answer's first character."""
    located = 0
    for example in splits["train"]:
        sentences, gold = squad.answer_sentence(example)
        visible = [len("".join(s.split())) for s in sentences]  # non-blank characters
        assert "".join("".join(s.split()) for s in sentences) == "".join(example.context.split())
        if gold is None:
            continue
        located += 1
        # The answer's first character, counted among the paragraph's non-blank ones.
        before = len("".join(example.context[:example.answer_starts[0]].split()))
        assert sum(visible[:gold]) <= before < sum(visible[:gold + 1])
    assert located >= 0.99 * len(splits["train"])


def test_windows_of_no_examples_or_a_negative_question_length_raise(tokenizer, splits):
    """No examples, or a `max_question_length` below 1 (it would cut the question's end), is a ValueError naming it."""
    with pytest.raises(ValueError, match="`examples` is empty"):
        squad.windows([], tokenizer)
    with pytest.raises(ValueError, match="`max_question_length` must be >= 1"):
        squad.windows(splits["eval"][:2], tokenizer, max_length=64, max_question_length=-5)
