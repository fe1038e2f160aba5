"""Where the app's own files are: icons and the sample run.

In the source tree and a frozen bundle they sit in `resources/` beside the package; an
installed wheel carries them inside it, as `checkpoint_browser/resources/`.
"""

from __future__ import annotations

import os

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def resources_dir() -> str:
    for folder in (os.path.join(_PACKAGE, "resources"),
                   os.path.join(os.path.dirname(_PACKAGE), "resources")):
        if os.path.isdir(folder):
            return folder
    return os.path.join(_PACKAGE, "resources")


def resource(*parts: str) -> str:
    return os.path.join(resources_dir(), *parts)
