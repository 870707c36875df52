"""The Prefect flows: wiring only, the work is in ``warehouse/``.

Importing them tunes the process's memory allocators for a load (``warehouse.common.memory.tune_allocators``):
a flow run that Prefect starts in a process of its own (``tradewh serve``, a worker) imports this package before
pyarrow, as the ``tradewh`` command does.
"""

from warehouse.common.memory import tune_allocators

tune_allocators()
