"""The CLI starts fast: heavy libraries load only in the commands that use them."""

from __future__ import annotations

import subprocess
import sys

# pandas is not listed: pyarrow loads it on its own once it is installed
HEAVY = ("sklearn", "lightgbm", "econml", "doubleml", "lifelines", "mapie", "statsmodels", "altair", "vl_convert",
         "fastapi", "uvicorn", "playwright")


def test_importing_the_cli_loads_no_heavy_library() -> None:
    probe = ("import sys, ennakoiva.interfaces.cli.main; "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"imported at CLI start-up: {loaded}"
