"""expbook: parameterized notebooks -> versioned runs -> a static Jupyter Book site."""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]
# the folder a running notebook writes its run to, set by the runner for the kernel (expbook.record reads it)
RUN_DIR_ENV = "EXPBOOK_RUN_DIR"
