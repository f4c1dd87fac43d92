"""The ``regconv`` command line: :mod:`~regconv.cli.main` (the dispatch), :mod:`~regconv.cli.fit`
(fit/validate/test), :mod:`~regconv.cli.run_dir`, :mod:`~regconv.cli.results`,
:mod:`~regconv.cli.predict` and :mod:`~regconv.cli.bench`."""
