"""pymc-marketing's ``BetaGeoModel`` and ``GammaGammaModel`` with the data as ``pm.Data``.

Why: pymc-marketing 0.19.x (pinned in ``pyproject.toml``) builds both likelihoods with the
data as graph *constants* (``T=self.data["T"]``, ``observed=np.stack(...)``,
``pt.as_tensor_variable(self.data["monetary_value"])``). PyTensor's C-module cache key then
holds the data (their static shapes), so every fit on a data set of another size compiled
new C modules (3 per model, some 5 s of CPU per data set on the development machine). Here the
same likelihood reads the data from ``pm.Data`` (shared variables of unfixed length): the
compiled code depends on the model only, so a process, or a machine with a warm PyTensor
cache, compiles each model once and every later fit reuses it (see ``docs/benchmarks.md``,
"BG/NBD compile"). The priors, the variables and their order are those of the originals, so
the MAP fit is theirs to the optimiser's tolerance (PyTensor no longer folds the data-only
terms in advance: the parameters move by under 1e-10 relative on CDNOW and the demo data,
3e-9 at most on CDNOW subsets). Covariate models are left to the originals (not used
here). Recheck on an upgrade: this mirrors ``build_model`` of pymc-marketing 0.19.2.

The classes live in a module of their own, imported on first use (:func:`.bgnbd._models`:
pymc-marketing takes seconds to import), so that fitted models pickle by reference to them
(:mod:`helpers.step_cache` keeps notebook 02's fit for notebook 03).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

with warnings.catch_warnings():  # ArviZ's refactor notice, tqdm's missing widgets
    warnings.simplefilter("ignore")
    from pymc_marketing import clv
    from pymc_marketing.clv.distributions import BetaGeoNBD


class BetaGeo(clv.BetaGeoModel):
    def build_model(self, data: pd.DataFrame | None = None) -> None:
        if self.purchase_covariate_cols or self.dropout_covariate_cols or data is None:
            return super().build_model(data)
        self._validate_data(data)
        self.data = data
        coords = {"customer_id": data["customer_id"], "obs_var": ["recency", "frequency"]}
        config = self.model_config
        with pm.Model(coords=coords) as self.model:
            alpha = config["alpha"].create_variable("alpha")
            if "a" in config and "b" in config:
                a = config["a"].create_variable("a")
                b = config["b"].create_variable("b")
            else:  # pymc-marketing's default: pooled dropout priors
                phi = config["phi_dropout"].create_variable("phi_dropout")
                kappa = config["kappa_dropout"].create_variable("kappa_dropout")
                a = pm.Deterministic("a", phi * kappa)
                b = pm.Deterministic("b", (1.0 - phi) * kappa)
            r = config["r"].create_variable("r")
            columns = self.data_columns(data)
            BetaGeoNBD(
                name="recency_frequency",
                a=a,
                b=b,
                r=r,
                alpha=alpha,
                T=pm.Data("T", columns["T"], dims="customer_id"),
                observed=pm.Data(
                    "recency_frequency_data",
                    columns["recency_frequency_data"],
                    dims=("customer_id", "obs_var"),
                ),
                dims=("customer_id", "obs_var"),
            )

    @staticmethod
    def data_columns(data: pd.DataFrame) -> dict[str, np.ndarray]:
        """The values of the ``pm.Data`` of ``build_model`` for ``data``."""
        observed = np.stack((data["recency"], data["frequency"]), axis=1)
        return {
            "T": data["T"].to_numpy(dtype=float),
            "recency_frequency_data": observed.astype(float),
        }


class GammaGamma(clv.GammaGammaModel):
    def build_model(self, data: pd.DataFrame | None = None) -> None:
        if data is None:
            return super().build_model(data)
        self._validate_data(data)
        self.data = data
        config = self.model_config
        with pm.Model(coords={"customer_id": data["customer_id"]}) as self.model:
            p = config["p"].create_variable("p")
            q = config["q"].create_variable("q")
            v = config["v"].create_variable("v")
            columns = self.data_columns(data)
            z = pm.Data("monetary_value", columns["monetary_value"])
            x = pm.Data("frequency", columns["frequency"])
            # Eq. 1a of Fader, Hardie & Lee (2005b), as pymc-marketing writes it
            pm.Potential(
                "likelihood",
                pt.gammaln(p * x + q)
                - pt.gammaln(p * x)
                - pt.gammaln(q)
                + q * pt.log(v)
                + (p * x - 1) * pt.log(z)
                + (p * x) * pt.log(x)
                - (p * x + q) * pt.log(x * z + v),
            )

    @staticmethod
    def data_columns(data: pd.DataFrame) -> dict[str, np.ndarray]:
        """The values of the ``pm.Data`` of ``build_model`` for ``data``."""
        return {
            "monetary_value": data["monetary_value"].to_numpy(dtype=float),
            "frequency": data["frequency"].to_numpy(dtype=float),
        }
