"""The shared chapter runner: presets, command line, training, run folder.

A chapter defines a `Preset` subclass and a `Task` subclass and calls
`main({"smoke": ..., "cpu": ..., "gpu": ...}, MyTask)`.
"""

from keras_transformer.training.checkpoint import restore_checkpoint
from keras_transformer.training.checkpoint import save_checkpoint
from keras_transformer.training.energy import assumed_power_watts
from keras_transformer.training.energy import energy_wh
from keras_transformer.training.flops import bert_flops_per_token
from keras_transformer.training.flops import gpt_flops_per_token
from keras_transformer.training.flops import gpt_model_flops_per_token
from keras_transformer.training.flops import measure_matmul_peak
from keras_transformer.training.flops import model_flops_utilization
from keras_transformer.training.fresh_process import main_began
from keras_transformer.training.fresh_process import run_in_fresh_process
from keras_transformer.training.fresh_process import run_phases
from keras_transformer.training.optimizer import build_optimizer
from keras_transformer.training.optimizer import no_decay_variables
from keras_transformer.training.predict_by_length import predict_by_length
from keras_transformer.training.preset import Preset
from keras_transformer.training.preset import apply_overrides
from keras_transformer.training.runner import main
from keras_transformer.training.runner import train
from keras_transformer.training.schedule import WarmupCosineDecay
from keras_transformer.training.schedule import WarmupLinearDecay
from keras_transformer.training.task import Task
