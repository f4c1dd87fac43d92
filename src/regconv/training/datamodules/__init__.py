"""Lightning data modules, one file per data set.

``base.py`` holds :class:`GraphDataModule` (loaders, task spec, training targets, split record)
and :class:`DatasetDataModule` (data sets given from Python); ``qm9.py``, ``nbody.py`` and
``md17.py`` one data set each; ``registry.py`` the table of them.

Add a data set
--------------
1. Write ``src/regconv/training/datamodules/my_data.py``: a ``GraphDataModule`` subclass whose
   constructor takes keyword-only options (``*``, then its own options, then ``batch_size``,
   ``eval_batch_size``, ``num_workers``, ``seed``, ``drop_last`` passed on to
   ``super().__init__``) and that implements ``task_spec`` (a :mod:`regconv.training.spec` dict)
   and ``build_dataset(split)`` (a PyG data set of ``Data`` items following the model contract);
   optionally ``prepare_data`` (download or generate once), ``training_targets`` (a faster
   route to the standardisation targets) and ``split_info`` (the record in ``results.json``).
2. Register it: one line ``"MyDataModule": "regconv.training.datamodules.my_data"`` in
   ``DATA_MODULES`` (``registry.py``).

Then ``from regconv.training import MyDataModule`` works, and a ``regconv fit`` config says
``data: {class_path: regconv.training.MyDataModule, init_args: {...}}``. Imported on first use,
so that importing this package does not import Lightning.
"""

from regconv.training.datamodules.registry import DATA_MODULES, available, import_all
from regconv.utils.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, DATA_MODULES, globals())

__all__ = ["DATA_MODULES", "available", "import_all", *DATA_MODULES]
