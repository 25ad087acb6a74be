"""The fine-tuning probes chapters 05 and 06 share: one recipe, whatever encoder it is given."""

import dataclasses

import pytest

from keras_transformer.training import Preset
from keras_transformer.training.cola_probe import ColaProbe, FolderColaPreset
from keras_transformer.training.span_qa import FolderSpanQAPreset, SquadProbe


@dataclasses.dataclass
class Pretraining(Preset, SquadProbe, ColaProbe):
    """A pretraining preset that carries both probes, as chapter 06's does."""


def test_probe_presets_take_the_probe_fields_and_evaluate_once_at_the_end():
    """`squad()` and `cola()` turn the `squad_*`/`cola_*` fields into a run of that many steps, 10% warm-up, one evaluation and checkpoint at the end, the pretraining's seed."""
    pre = Pretraining(seed=7, squad_steps=50, squad_batch_size=4, squad_learning_rate=1e-3,
                      cola_steps=30, cola_batch_size=6, cola_learning_rate=2e-4)
    squad = pre.squad(FolderSpanQAPreset, encoder_dir="folder", from_scratch=True)
    assert isinstance(squad, FolderSpanQAPreset)
    assert (squad.steps, squad.batch_size, squad.learning_rate) == (50, 4, 1e-3)
    assert (squad.warmup_steps, squad.eval_interval, squad.checkpoint_interval) == (5, 50, 50)
    assert (squad.seed, squad.encoder_dir, squad.from_scratch) == (7, "folder", True)
    cola = pre.cola(encoder_dir="folder")
    assert isinstance(cola, FolderColaPreset)
    assert (cola.steps, cola.batch_size, cola.learning_rate) == (30, 6, 2e-4)
    assert (cola.warmup_steps, cola.eval_interval, cola.seed) == (3, 30, 7)


def test_the_squad_probe_evaluates_every_squad_eval_interval_steps_when_told():
    """`squad_eval_interval` n gives the SQuAD probe an evaluation every n steps, and the rest of its recipe unchanged."""
    pre = Pretraining(seed=7, squad_steps=60, squad_eval_interval=20)
    probe = pre.squad(FolderSpanQAPreset, encoder_dir="folder", encoder_dropout=0.1)
    assert (probe.eval_interval, probe.steps, probe.warmup_steps) == (20, 60, 6)
    assert probe.checkpoint_interval == 60 and probe.encoder_dropout == 0.1
    with pytest.raises(ValueError, match="squad_"):  # 60 steps hold no whole number of 25
        Pretraining(squad_steps=60, squad_eval_interval=25).check_squad()


@pytest.mark.parametrize("pretraining, probe, expected", [
    (False, None, False), (True, None, True), (False, True, True), (True, False, False)])
def test_the_squad_probe_compiles_as_the_pretraining_unless_told(pretraining, probe, expected):
    """`squad_jit_compile` None gives the SQuAD probe the pretraining's `jit_compile`; True or False overrides it."""
    pre = Pretraining(jit_compile=pretraining, squad_jit_compile=probe)
    assert pre.squad().jit_compile is expected


@pytest.mark.parametrize("field", ["train_size", "eval_size"])
def test_cola_preset_rejects_negative_sizes(field):
    """A negative `train_size` or `eval_size` is a ValueError naming both fields."""
    with pytest.raises(ValueError, match="train_size and eval_size"):
        FolderColaPreset(**{field: -1})


@pytest.mark.parametrize("fields, named", [
    ({"squad_doc_stride": -1}, "doc_stride must be an integer >= 1"),
    ({"squad_max_length": 4}, "must leave room for a context piece"),
])
def test_bad_squad_fields_fail_before_pretraining(fields, named):
    """`check_squad` raises at once for a window geometry that `squad.windows` would refuse only after pretraining."""
    with pytest.raises(ValueError, match=named):
        Pretraining(**fields).check_squad()


@pytest.mark.parametrize("field, value", [
    ("doc_stride", -5), ("max_question_length", -1), ("max_answer_length", 0),
])
def test_span_qa_preset_rejects_sizes_below_one(field, value):
    """A span-QA preset with a stride, question or answer length below 1 is a ValueError naming the field."""
    with pytest.raises(ValueError, match=f"{field} must be an integer >= 1"):
        FolderSpanQAPreset(**{field: value})


def test_an_unset_encoder_folder_is_not_the_working_directory():
    """An empty `encoder_dir` is a ValueError, not a vocab.txt read from wherever the process runs."""
    from keras_transformer.models.bert.folder import load_bert_backbone, vocabulary_file

    for load in (vocabulary_file, load_bert_backbone):
        with pytest.raises(ValueError, match="encoder folder is empty"):
            load(FolderSpanQAPreset().encoder_dir)
