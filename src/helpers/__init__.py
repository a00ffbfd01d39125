"""Tested helpers behind the b2b-insights notebooks.

Every notebook section calls one or two *steps* of this package (plain functions returning a
typed result, or a :class:`helpers.steps.Skipped` that says in one sentence why the step could
not run on this data) and shows the result through :mod:`helpers.plots` and
:mod:`helpers.reporting`. Modules are named for the question they answer:

- ``steps``, ``schemas``, ``session``: the frame every study shares (Skipped results, declared
  metrics, the first cell of a notebook)
- ``config``, ``contract``, ``loading`` (package), ``validation``: paths; the data contract;
  reading, mapping and checking own exports into a ``Dataset``
- ``features``: account-level features "as of" a date (Ibis on DuckDB); ``order_gaps``: the
  gaps between purchase days, counted per length in the engine; ``engine``,
  ``engine_settings``, ``engine_types``: where the engine-side steps run, the ``engine:``
  setting, the types of columns without values (frames built in code) on upload;
  ``step_cache``, ``memory``, ``text_arrays``: results shared between notebooks, memory given
  back between steps, the Arrow text behind a column
- ``decomposition``, ``revenue_periods``, ``health``: notebook 00; ``segmentation``, ``leads``:
  notebook 01; ``survival`` (package): notebook 02; ``channels``, ``attribution``: notebook 03;
  ``summary``: notebook 90
- ``plots``, ``theme``, ``reporting``: charts, the one palette, sentences and files
- ``demo`` (package): the seeded demo company with planted truths
- ``runner`` (package): parameters, batch files, execution, HTML rendering, index, hygiene
"""

__version__ = "0.1.0"
