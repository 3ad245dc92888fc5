"""Cases: problems described in TOML files (or dicts), validated before anything runs."""

from fe2.case.run import *  # noqa: F403
from fe2.case.run import __all__  # noqa: F401
