"""Data parallelism across processes: the cluster a run joins.

Each process runs the same chapter script with its `process_id`. They join
one JAX runtime (`keras.distribution.initialize`, which calls
`jax.distributed.initialize`), so `keras.distribution.DataParallel` sees
every process's devices; each process feeds its own slice of every global
batch and the gradients are summed across processes inside the compiled
step. On CPUs the processes exchange them through Gloo.

Example, two processes on this machine (what `training.launch` does for you):

    export KERAS_BACKEND=jax
    python chapters/04_gpt.py --preset cpu --coordinator localhost:1234 --num-processes 2 --process-id 0 &
    python chapters/04_gpt.py --preset cpu --coordinator localhost:1234 --num-processes 2 --process-id 1
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process stands in a multi-process run.

    Args:
        num_processes: how many processes train together (1: this one alone).
        process_id: this process's index, 0 to `num_processes - 1`; process 0
            writes the run folder, process i its `process-i` subfolder.
        coordinator: `host:port` of process 0, which every process reaches.

    >>> Cluster(num_processes=2, process_id=1, coordinator="localhost:1234").process_id
    1
    >>> Cluster(num_processes=2, process_id=2, coordinator="localhost:1234")
    Traceback (most recent call last):
    ...
    ValueError: process_id must be in 0..1 for num_processes=2, got 2.
    """

    num_processes: int = 1
    process_id: int = 0
    coordinator: str | None = None

    def __post_init__(self):
        if self.num_processes < 1:
            raise ValueError(f"num_processes must be at least 1, got {self.num_processes}.")
        if not 0 <= self.process_id < self.num_processes:
            raise ValueError(
                f"process_id must be in 0..{self.num_processes - 1} for "
                f"num_processes={self.num_processes}, got {self.process_id}."
            )
        if self.num_processes > 1 and not self.coordinator:
            raise ValueError(
                f"num_processes={self.num_processes} needs a coordinator, the "
                f"host:port of process 0 (--coordinator); got {self.coordinator!r}."
            )


def check_backend(cluster: Cluster) -> None:
    """Raise unless this Keras backend can join `cluster`: more than one process needs JAX.

    Example (one process runs on any backend; two need JAX):

    >>> import keras
    >>> from keras_transformer.training.cluster import Cluster, check_backend
    >>> def can_join(cluster):
    ...     try:
    ...         check_backend(cluster)
    ...         return True
    ...     except ValueError:  # "num_processes=2 needs the jax backend (KERAS_BACKEND=jax); ..."
    ...         return False
    >>> pair = Cluster(num_processes=2, process_id=0, coordinator="localhost:1234")
    >>> can_join(Cluster(num_processes=1)), can_join(pair) == (keras.backend.backend() == "jax")
    (True, True)
    """
    backend = keras.backend.backend()
    if cluster.num_processes > 1 and backend != "jax":
        raise ValueError(
            f"num_processes={cluster.num_processes} needs the jax backend "
            f"(KERAS_BACKEND=jax); got {backend!r}."
        )


def join(cluster: Cluster) -> None:
    """Connects this process to the others; call it before the backend computes anything.

    A single-process cluster is a no-op. Multi-process training needs the
    JAX backend (`KERAS_BACKEND=jax`): TensorFlow and PyTorch raise.

    Example (alone, there is nothing to join; two processes are what `training.launch` starts):

    >>> from keras_transformer.training.cluster import Cluster, join, process_rank
    >>> join(Cluster(num_processes=1))
    >>> process_rank()
    (0, 1)
    """
    if cluster.num_processes == 1:
        return
    check_backend(cluster)
    import jax

    # CPU devices of different processes talk through Gloo; GPUs use NCCL either way.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)


def process_rank() -> tuple[int, int]:
    """Returns `(process index, process count)` of the backend's runtime: `(0, 1)` alone.

    Example:

    >>> from keras_transformer.training.cluster import process_rank
    >>> index, count = process_rank()  # a process started on its own
    >>> index, count
    (0, 1)
    """
    if keras.backend.backend() != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()
