"""The ``engine:`` setting of a data source: which engine names and URLs are valid, parsed into
an :class:`Engine` (split from :mod:`helpers.engine`, which connects to it and runs the steps;
everything here is re-exported there).
"""

from __future__ import annotations

import dataclasses
import re
from importlib.metadata import entry_points

#: Engines named by a word; anything else must be an Ibis connection URL.
NAMED = ("duckdb", "pyspark")
#: The Spark master when the source names none: a local session on two cores.
DEFAULT_SPARK_MASTER = "local[2]"
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Engine:
    """A parsed ``engine:`` setting: ``name`` is ``duckdb``, ``pyspark`` or an Ibis URL;
    ``spark_master`` is the Spark master URL (``pyspark`` only)."""

    name: str = "duckdb"
    spark_master: str | None = None

    @property
    def kind(self) -> str:
        """``duckdb``, ``pyspark`` or ``url``."""
        return self.name if self.name in NAMED else "url"

    def __str__(self) -> str:
        if self.kind == "pyspark":
            return f"pyspark ({self.spark_master or DEFAULT_SPARK_MASTER})"
        if self.kind == "url":  # never show a password in a message or report
            return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", self.name)
        return self.name


#: The default engine: in-process DuckDB.
DUCKDB = Engine()


def url_schemes() -> tuple[str, ...]:
    """The Ibis backends this Ibis knows (their names are the URL schemes of ``ibis.connect``),
    whether or not their drivers are installed."""
    return tuple(sorted(e.name for e in entry_points(group="ibis.backends")))


def parse(value: object = None, spark_master: object = None) -> Engine:
    """The :class:`Engine` of an ``engine:`` value (None: DuckDB) and optional ``spark_master``.

    Raises ``ValueError`` (a sentence without the file; the config adds it) for a value that is
    neither ``duckdb``, ``pyspark`` nor a URL whose scheme is an Ibis backend, and for a
    ``spark_master`` given with another engine.
    """
    name = "duckdb" if value is None else str(value).strip()
    if not isinstance(value, (str, type(None))) or not name:
        raise ValueError(f"engine must be duckdb, pyspark or an Ibis connection URL, got {value!r}")
    if name.lower() in NAMED:
        name = name.lower()
    else:
        match = _URL.match(name)
        schemes = url_schemes()
        if match is None:
            raise ValueError(
                f"engine {name!r} is not known; use duckdb (default), pyspark, or an Ibis "
                f"connection URL such as postgres://user@host/database (URL schemes: "
                f"{', '.join(schemes)})"
            )
        scheme = url_scheme(name)
        if scheme not in schemes:
            raise ValueError(
                f"engine URL scheme '{scheme}' is not an Ibis backend; use one of "
                f"{', '.join(schemes)} (e.g. postgres://user@host/database)"
            )
    if spark_master is not None:
        if name != "pyspark":
            raise ValueError("spark_master is only for engine: pyspark")
        if not isinstance(spark_master, str) or not spark_master.strip():
            raise ValueError(
                "spark_master must be a Spark master URL such as local[2] or "
                f"spark://host:7077, got {spark_master!r}"
            )
        return Engine(name, spark_master.strip())
    return Engine(name)


def url_scheme(url: str) -> str:
    """The Ibis backend a connection URL names (``postgresql+psycopg://`` -> ``postgres``)."""
    scheme = url.split("://", 1)[0].split("+")[0].lower()
    return "postgres" if scheme == "postgresql" else scheme
