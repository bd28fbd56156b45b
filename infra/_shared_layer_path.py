"""Makes the shared `cloudtill` package (layers/cloudtill/python) importable from infra code.

The CDK app reads `ShopSettings` from the very package the functions use, so the settings the
stack hands to functions are validated by the same model the functions parse them with.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHARED_LAYER_ROOT = Path(__file__).resolve().parent.parent / "layers" / "cloudtill"
_PYTHON_DIR = str(SHARED_LAYER_ROOT / "python")

if _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)
