"""The MAP fit of the BG/NBD and Gamma-Gamma models with their compiled functions kept.

pymc-marketing fits by MAP through ``pymc.find_MAP``, which compiles its PyTensor functions
anew on every call: the initial point, a per-variable log-probability for
``check_start_vals``, the log-probability, its gradient, the parameters at the optimum, and,
in pymc-marketing, the trace's point function (the C modules themselves are cached on disk;
measured at 100k accounts, a second BG/NBD fit in a process took 2.5 s of CPU that way and
1.1 s here, the optimiser alone; the first fit of a process, about 5 s, is not cheaper).
pymc-marketing offers no way to reuse a compiled model across data sets (0.19.2: ``fit``
rebuilds the model and calls ``find_MAP``; ``build_from_idata`` rebuilds it too). So
:func:`fit_map` does ``find_MAP``'s work on functions compiled once per model *structure*
(the model class and its priors) and kept for the process: the data are ``pm.Data`` (see
``bgnbd._models``), so a new data set is a ``pm.set_data`` on the kept model, and the compiled
code stays the same.

A new process would still spend some 4 s of CPU per model building those functions (PyTensor's
graph rewrites and linking; its C modules are on disk already). So the compiled functions and
their model are also kept on disk, pickled (cloudpickle: pymc's model holds local functions),
beside PyTensor's own compiled code (``<compiledir>/b2b-insights-map``), under a key over the
model structure, the library versions and this code's source; a new process loads them in
about 0.1 s (:func:`_kept`). Loading gives the same graph and the same C code, so the same
floats (``tests/test_bgnbd_map.py``); a file that cannot be read is rebuilt and replaced, and
``B2B_CACHE=off`` turns the disk copy off with the load-once cache. The folder is PyTensor's:
``PYTENSOR_FLAGS=base_compiledir=...`` moves both.

What it does is ``find_MAP``'s, step for step (pymc 5.28): the same initial point (no
jitter), the same log-probability and gradient functions (``compile_logp``/``compile_dlogp``
with ``jacobian=False``, over the same graph), scipy's L-BFGS-B from the same start with the
same cost function (negated logp and gradient, the same 5,000-evaluation cap), and the
parameters read from the optimum of the value variables. The optimum is therefore the
library's to the last bit (``tests/test_bgnbd_map.py`` checks the parameters equal
``model.fit(method="map")``'s exactly). Left out: ``check_start_vals``' per-variable report
(one more compile); the start's log-probability and gradient are checked finite here instead,
with pymc's error. The returned object is the pymc-marketing model, built on the data as
``fit`` builds it, with the posterior (chain and draw of size 1) that ``fit`` would give, so
its predictions are the library's. Recheck on an upgrade of pymc or pymc-marketing.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import step_cache

#: Evaluations of the log-probability before the optimiser is stopped (``find_MAP``'s default).
MAXEVAL = 5000


@dataclass
class _Compiled:
    """One model structure's kept PyTensor model and compiled functions."""

    model: Any  # the pm.Model (of a pymc-marketing model) whose data the functions read
    start: dict[str, np.ndarray]  # initial point of the value variables (transformed)
    x0: Any  # RaveledVars of the start
    logp: Any  # RaveledVars -> logp (jacobian=False)
    dlogp: Any  # RaveledVars -> gradient of logp
    values: Any  # value variables -> parameters (free RVs and deterministics)
    names: list[str]  # names of ``values``' outputs


_CACHE: dict[tuple[str, str], _Compiled] = {}
_LOCK = threading.Lock()


def _compile(template) -> _Compiled:
    """``find_MAP``'s functions of ``template.model`` (built), compiled."""
    from pymc.blocking import DictToArrayBijection
    from pymc.initial_point import make_initial_point_fn
    from pymc.util import get_default_varnames

    model = template.model
    ipfn = make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True)
    start = ipfn(None)
    value_vars = model.continuous_value_vars
    names = {v.name for v in value_vars}
    x0 = DictToArrayBijection.map({k: v for k, v in start.items() if k in names})
    by_name = {v.name: v for v in value_vars}
    rvs = [model.values_to_rvs[by_name[name]] for name, _, _, _ in x0.point_map_info]
    logp = DictToArrayBijection.mapf(model.compile_logp(jacobian=False), start)
    dlogp = DictToArrayBijection.mapf(model.compile_dlogp(rvs, jacobian=False), start)
    outs = get_default_varnames(model.unobserved_value_vars, include_transformed=False)
    values = model.compile_fn(inputs=model.value_vars, outs=outs)
    return _Compiled(model, start, x0, logp, dlogp, values, [o.name for o in outs])


#: Modules whose versions are part of the disk key (what builds, compiles or runs the graph).
_KEY_MODULES = ("numpy", "scipy", "pytensor", "pymc", "pymc_marketing", "pymc_extras")


def store_path(key: str) -> Path:
    """Where the compiled functions of model structure ``key`` are kept on disk: a file in
    ``<PyTensor compiledir>/b2b-insights-map`` named by a digest of ``key``, Python's and the
    libraries' versions and the source of the model (``bgnbd.py``, ``bgnbd_models.py``) and of
    this module."""
    import pytensor

    digest = hashlib.sha256(f"{key}|{sys.version}".encode())
    for name in _KEY_MODULES:
        module = sys.modules.get(name) or __import__(name)
        digest.update(f"|{name}={getattr(module, '__version__', '?')}".encode())
    here = Path(__file__)
    for source in (here, here.with_name("bgnbd.py"), here.with_name("bgnbd_models.py")):
        with contextlib.suppress(OSError):  # an install without sources: versions only
            digest.update(source.read_bytes())
    folder = Path(pytensor.config.compiledir) / "b2b-insights-map"
    return folder / f"{key.replace(':', '-')}-{digest.hexdigest()[:16]}.pkl"


def _disk_enabled() -> bool:
    from helpers.loading.cache import enabled

    return enabled()


def _kept(key: str, template: Callable[[], Any]) -> _Compiled:
    """The compiled functions of ``key``: loaded from disk when kept there, else compiled from
    ``template()`` (a built model of that structure) and written (atomically, by
    :func:`helpers.step_cache.write_pickle`). Any failure to read or write the disk copy falls
    back to compiling: the disk copy saves time, never decides a result."""
    path = store_path(key) if _disk_enabled() else None
    found = step_cache.read_pickle(path) if path is not None else None
    if found is not None and isinstance(found[0], _Compiled):
        return found[0]
    compiled = _compile(template())
    if path is not None:
        step_cache.write_pickle(path, compiled)
    return compiled


def _minimize(c: _Compiled) -> dict[str, float]:
    """``find_MAP``'s L-BFGS-B run on the kept functions; the parameters at the optimum."""
    import pymc as pm
    from pymc.blocking import DictToArrayBijection, RaveledVars
    from pymc.exceptions import SamplingError
    from scipy.optimize import minimize

    info = c.x0.point_map_info
    n_eval = 0
    previous_x = None

    def cost(x: np.ndarray) -> tuple[float, np.ndarray]:
        # pymc.tuning.starting.CostFuncWrapper with a gradient, without the progress bar
        nonlocal n_eval, previous_x
        neg_value = np.float64(c.logp(RaveledVars(pm.floatX(x), info)))
        neg_grad = c.dlogp(RaveledVars(pm.floatX(x), info))
        if np.all(np.isfinite(neg_grad)):
            previous_x = x
        if n_eval > MAXEVAL:
            raise StopIteration
        n_eval += 1
        return -1.0 * neg_value, (-1.0 * neg_grad).astype(np.float64)

    # instead of model.check_start_vals (a further compile): the start must be finite
    first = c.logp(c.x0), c.dlogp(c.x0)
    if not (np.isfinite(first[0]) and np.all(np.isfinite(first[1]))):
        raise SamplingError(f"Initial evaluation of the model at {c.start} is not finite")
    try:
        x = minimize(cost, c.x0.data, method="L-BFGS-B", jac=True)["x"]
    except StopIteration:  # the evaluation cap: find_MAP keeps the last finite point
        x = previous_x
    optimum = DictToArrayBijection.rmap(RaveledVars(x, info), c.start)
    point = {v.name: optimum[v.name] for v in c.model.value_vars}
    return dict(zip(c.names, c.values(point), strict=True))


def _posterior(values: dict[str, Any]):
    """The posterior group ``pm.to_inference_data`` makes of a MAP point (chain and draw 1)."""
    import arviz as az

    return az.from_dict(posterior={k: np.asarray(v)[None, None] for k, v in values.items()})


def _set_data(model, data: pd.DataFrame, columns: dict[str, np.ndarray]) -> None:
    """Put a new data set into the kept model (its ``pm.Data`` and the customer dimension)."""
    import pymc as pm

    pm.set_data(columns, model=model, coords={"customer_id": data["customer_id"]})


def fit_map(model, data: pd.DataFrame, key: str):
    """Fit the pymc-marketing ``model`` (not yet built; one of ``bgnbd._models``' classes,
    whose ``data_columns(data)`` gives its ``pm.Data`` values) by MAP on ``data``, as
    ``model.fit(data=data, method="map")`` does, with the compiled functions of the model
    structure ``key`` (class and priors) kept across calls (see the module). Returns ``model``,
    built and fitted (``idata`` with its posterior and ``fit_data``)."""
    with _LOCK:  # the kept model holds one data set at a time
        c = _CACHE.get(key)
        if c is None:

            def template():
                built = type(model)(model_config=model.model_config)
                built.build_model(data)
                return built

            c = _CACHE[key] = _kept(key, template)
        _set_data(c.model, data, model.data_columns(data))
        values = _minimize(c)
    model.build_model(data)  # the returned model is built on its data, as fit builds it
    model.idata = _posterior(values)
    model.set_idata_attrs(model.idata)
    model._add_fit_data_group(model.data)
    return model
