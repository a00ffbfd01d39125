"""The run machinery: everything between a notebook file and a report, none of the analysis.

- ``parameters`` the one reader of a notebook's ``parameters`` cell and the check of values
  against it (standard library only: cheap to import from a notebook)
- ``spec``       batch YAML files: matrix expansion, run names, parameter checks of every run
- ``pool``       the batch: worker processes, the order of runs, signals, cleaning up after them
- ``execute``    one notebook executed by papermill into a staging folder; its HTML view
- ``records``    what happened to each run: ``runs.json``, the index file, recovery after a kill
- ``worker``     a worker process: runs papermill into staging folders, ends with the batch
- ``folders``    staging folders named by their owner, swapped in atomically, leftovers cleared
- ``lock``       one batch at a time per reports folder; the holder named, a killed one's taken over
- ``processes``  workers that die with their parent; process trees stopped whole (Linux /proc)
- ``checkout``   ``make setup`` keyed to the checkout, refusing another checkout's ``.venv``
- ``batch``      the command line: ``python -m helpers.runner.batch run runs/default.yaml``
- ``render``     an executed notebook as a self-contained HTML report
- ``index``      ``reports/index.html``: "Start here", then every batch and run
- ``compare``    ``reports/<batch>/comparison.html``: the slices' KPI strips side by side
- ``pdf``        the leadership summary printed to ``summary.pdf`` by headless Chromium
- ``hygiene``    the checks of committed notebooks: ``python -m helpers.runner.hygiene``

Nothing is imported here, so ``import helpers.runner.parameters`` stays cheap; the analysis
modules of ``helpers`` never import this package (``helpers.session`` imports only
``parameters``, to check a notebook's parameters in its first cell).
"""
