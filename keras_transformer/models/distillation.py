"""DistilBERT's recipe: a student with half the teacher's layers, trained on the teacher's soft targets.

Sanh et al. (2019), "DistilBERT, a distilled version of BERT". The student
keeps the teacher's width, starts from one teacher layer out of two, and
learns from three losses: the teacher's temperature-softened distribution
(`keras_transformer.losses.distillation_loss`), the true labels, and the
cosine between the two models' last hidden states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from keras_transformer import losses
from keras_transformer._typing import Tensor
from keras_transformer.layers._checks import check_no_sample_weight
from keras_transformer.models.bert.backbone import BERT
from keras_transformer.models.bert.tasks import _BertTask
from keras_transformer.models.builds_on_demand import BuildsOnDemand
from keras_transformer.models.idle_weights import LeavesIdleWeightsOut


def student_layers(teacher_layers: int, num_layers: int | None = None) -> list[int]:
    """The teacher layers a student copies: `num_layers` of them (default half), evenly spread from the first.

    Example:
    >>> student_layers(6), student_layers(12), student_layers(6, num_layers=2)
    ([0, 2, 4], [0, 2, 4, 6, 8, 10], [0, 3])
    """
    num_layers = max(teacher_layers // 2, 1) if num_layers is None else num_layers
    if not isinstance(num_layers, int) or not 1 <= num_layers <= teacher_layers:
        raise ValueError(
            f"`num_layers` of the student must be an integer in [1, {teacher_layers}] (the "
            f"teacher's depth): a student cannot be deeper than its teacher; got {num_layers!r}."
        )
    return [i * teacher_layers // num_layers for i in range(num_layers)]


def distil_student(teacher: BERT, layers: Sequence[int] | None = None) -> BERT:
    """A `BERT` like `teacher` but with only the teacher `layers`, initialized from them.

    The embeddings, their LayerNorm and the pooler are copied whole; student
    block `i` is a copy of teacher block `layers[i]`. The default is
    `student_layers(teacher.num_layers)`: every other layer from the first, as
    DistilBERT does.

    Args:
        teacher: the `BERT` to copy (built, or built here on a dummy batch).
        layers: increasing teacher layer indices, one per student layer.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> teacher = kt.models.BERT(vocab_size=30, max_length=8, num_layers=4, num_heads=2,
    ...                          hidden_dim=8, intermediate_dim=16)
    >>> student = kt.models.distil_student(teacher)
    >>> student.num_layers, bool(np.array_equal(student.encoder.blocks[1].weights[0].numpy(),
    ...                                         teacher.encoder.blocks[2].weights[0].numpy()))
    (2, True)
    """
    if not isinstance(teacher, BERT):
        raise ValueError(f"`teacher` must be a `BERT`; got {type(teacher).__name__}.")
    if layers is None:
        layers = student_layers(teacher.num_layers)
    layers = list(layers)
    if not layers or len(layers) > teacher.num_layers:
        raise ValueError(
            f"`layers` must name 1 to {teacher.num_layers} teacher layers (a student cannot be "
            f"deeper than its teacher); got {len(layers)}: {layers}."
        )
    if any(not 0 <= i < teacher.num_layers for i in layers) or layers != sorted(set(layers)):
        raise ValueError(
            f"`layers` must be increasing teacher layer indices in [0, {teacher.num_layers}); "
            f"got {layers}."
        )
    # A teacher frozen by a `Distiller` must not hand its freeze to the student.
    config = {**teacher.get_config(), "num_layers": len(layers), "name": f"{teacher.name}_student",
              "trainable": True}
    student = BERT.from_config(config)
    teacher.ensure_built()
    student.ensure_built()
    copies = [(student.embeddings, teacher.embeddings),
              (student.embeddings_norm, teacher.embeddings_norm),
              (student.pooler, teacher.pooler)]
    if teacher.share_weights:  # one block serves every layer: copy it
        copies.append((student.encoder.blocks[0], teacher.encoder.blocks[0]))
    else:
        copies += [(student.encoder.blocks[i], teacher.encoder.blocks[j])
                   for i, j in enumerate(layers)]
    for target, source in copies:
        target.set_weights(source.get_weights())
    return student


@keras.saving.register_keras_serializable(package="keras_transformer")
class Distiller(BuildsOnDemand, LeavesIdleWeightsOut, keras.Model):
    """Train a student task model on a frozen teacher's soft targets, the true labels and its hidden states.

    `loss = soft_weight · T² CE(teacher/T, student/T) + hard_weight · CE(labels, student)
    + cosine_weight · (1 - cos(student hidden, teacher hidden))`, the first two
    summed over the logits the models return (e.g. start and end). Defaults
    are DistilBERT's (5, 2, 1, T = 2). The teacher is frozen (the model
    passed in: `teacher.trainable` becomes False), runs in inference mode,
    and runs only in training calls: `predict` and `evaluate` run the student
    alone, so `evaluate`'s loss is `hard_weight · CE(labels, student)`. The student and teacher are task models of the same
    kind (`BertSpanQA`, `BertClassifier`) and the same hidden width; build the
    student's backbone with `distil_student(teacher.backbone)`.

    Compile with an optimizer alone and fit on `(inputs, labels)`, the
    labels keyed like the student's logits; the model's outputs are the
    student's.

    Args:
        student, teacher: task models.
        temperature: `T` of the soft targets.
        soft_weight, hard_weight, cosine_weight: the losses' weights.

    Example:
    >>> import numpy as np
    >>> import keras_transformer as kt
    >>> bert = kt.models.BERT(vocab_size=30, max_length=8, num_layers=2, num_heads=2,
    ...                       hidden_dim=8, intermediate_dim=16)
    >>> teacher = kt.models.BertClassifier(bert, num_classes=2)
    >>> student = kt.models.BertClassifier(kt.models.distil_student(bert), num_classes=2)
    >>> distiller = kt.models.Distiller(student, teacher)
    >>> distiller.compile(optimizer="adam")
    >>> x = {"token_ids": np.array([[2, 5, 7, 3]]), "segment_ids": np.zeros((1, 4), "int32")}
    >>> history = distiller.fit(x, np.array([1]), epochs=1, verbose=0)
    >>> distiller.predict(x, verbose=0).shape
    (1, 2)
    """

    def __init__(self, student, teacher, temperature: float = 2.0, soft_weight: float = 5.0,
                 hard_weight: float = 2.0, cosine_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        student, teacher = (keras.saving.deserialize_keras_object(m) if isinstance(m, dict) else m
                            for m in (student, teacher))
        for name, model in (("student", student), ("teacher", teacher)):
            if not isinstance(model, _BertTask) or model.extra_inputs:
                raise ValueError(
                    f"`{name}` must be a BERT task model whose every output counts "
                    f"(BertSpanQA, BertClassifier); got {type(model).__name__}. Masked-LM "
                    "models predict unused slots too, which these losses would count."
                )
        if type(student) is not type(teacher):
            raise ValueError(
                f"`student` and `teacher` must be the same kind of task model; got "
                f"{type(student).__name__} and {type(teacher).__name__}."
            )
        if getattr(student, "num_classes", None) != getattr(teacher, "num_classes", None):
            raise ValueError(
                f"The soft targets compare class distributions, so the student's num_classes "
                f"({student.num_classes}) must equal the teacher's ({teacher.num_classes})."
            )
        if student.backbone.hidden_dim != teacher.backbone.hidden_dim:
            raise ValueError(
                f"The cosine loss compares hidden states, so the student's hidden_dim "
                f"({student.backbone.hidden_dim}) must equal the teacher's "
                f"({teacher.backbone.hidden_dim}); build the student with `distil_student`."
            )
        if student.backbone.num_layers > teacher.backbone.num_layers:
            raise ValueError(
                f"The student ({student.backbone.num_layers} layers) must not be deeper than "
                f"its teacher ({teacher.backbone.num_layers})."
            )
        losses._check_temperature(temperature)
        for name, weight in (("soft_weight", soft_weight), ("hard_weight", hard_weight),
                             ("cosine_weight", cosine_weight)):
            if not weight >= 0:
                raise ValueError(f"`{name}` must be >= 0; got {weight!r}.")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.temperature = float(temperature)
        self.soft_weight = float(soft_weight)
        self.hard_weight = float(hard_weight)
        self.cosine_weight = float(cosine_weight)

    def idle_weights(self) -> list[keras.Variable]:
        return self.student.idle_weights()  # the teacher's are all frozen

    def fresh_input_shape(self) -> dict[str, tuple]:
        return self.student.fresh_input_shape()

    def build(self, inputs_shape):
        for model in (self.student, self.teacher):
            if not model.built:
                model.build(inputs_shape)
        self.built = True

    def call(self, inputs, training=None):
        outputs, hidden = self.student.call_with_hidden(inputs, training=training)
        if training:  # only training pays for the teacher
            terms = self._teacher_terms(inputs, outputs, hidden)
            self.add_loss(self.soft_weight * terms["soft"] + self.cosine_weight * terms["cosine"])
        return outputs

    def _teacher_terms(self, inputs, outputs, hidden) -> dict:
        teacher_outputs, teacher_hidden = self.teacher.call_with_hidden(inputs, training=False)
        soft = 0.0
        for key, logits in _as_dict(outputs).items():
            soft += losses.distillation_loss(logits, _as_dict(teacher_outputs)[key], self.temperature)
        backbone_inputs, _ = self.student._split(inputs)
        cosine = losses.hidden_cosine_loss(
            hidden["sequence_output"], teacher_hidden["sequence_output"],
            self.student.backbone.padding_mask(backbone_inputs))
        return {"soft": soft, "cosine": cosine}

    def _hard(self, labels, outputs):
        labels, outputs = _as_dict(labels), _as_dict(outputs)
        return sum(
            keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
                labels[key], logits, from_logits=True))
            for key, logits in outputs.items()
        )

    def loss_terms(self, inputs: dict[str, Tensor],
                   labels: Tensor | Mapping[str, Tensor] | None = None, training: bool = False) -> dict:
        """The three losses, unweighted: `"soft"`, `"hard"` (0 without labels) and `"cosine"`."""
        outputs, hidden = self.student.call_with_hidden(inputs, training=training)
        terms = self._teacher_terms(inputs, outputs, hidden)
        terms["hard"] = 0.0 if labels is None else self._hard(labels, outputs)
        return terms

    def compute_loss(
        self,
        x: dict[str, Tensor] | None = None,
        y: Tensor | Mapping[str, Tensor] | None = None,
        y_pred: Tensor | Mapping[str, Tensor] | None = None,
        sample_weight: Tensor | None = None,
        training: bool = True,
    ) -> Tensor | float:
        """The hard-label loss on `y`, plus the soft and cosine losses the training call added."""
        check_no_sample_weight(sample_weight)
        total = keras.ops.sum(keras.ops.stack(self.losses)) if self.losses else 0.0
        if y is not None:
            total = total + self.hard_weight * self._hard(y, y_pred)
        return total

    def compute_output_shape(self, inputs_shape):
        return self.student.compute_output_shape(inputs_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "temperature": self.temperature,
            "soft_weight": self.soft_weight,
            "hard_weight": self.hard_weight,
            "cosine_weight": self.cosine_weight,
        }


def _as_dict(outputs):
    return outputs if isinstance(outputs, Mapping) else {"logits": outputs}
