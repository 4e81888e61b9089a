"""allocator: need-based, auditable allocation of the English drug-treatment grant."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
