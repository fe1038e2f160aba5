"""HTML for a Keras file's model and layers in the details panel: the model's name, Keras
version and layout, and a layer's class and config (the tree's scopes are its layers)."""

from __future__ import annotations

import html
import json

from ..formats.keras import KerasFile, KerasLayer

MAX_CONFIG_ROWS = 60


def layer_of(reader, path: str | None) -> KerasLayer | None:
    """The layer of a Keras file whose name is the scope `path`, else None."""
    if not isinstance(reader, KerasFile) or not path:
        return None
    return next((layer for layer in reader.layers if layer.name == path), None)


def title_html(reader) -> str | None:
    """The scope tree's title for a Keras file, else None."""
    if not isinstance(reader, KerasFile):
        return None
    name = reader.model_name()
    version = f", Keras {reader.keras_version}" if reader.keras_version else ""
    classes = sum(1 for layer in reader.layers if layer.weights)
    what = f"{html.escape(name)} — " if name else ""
    return (f"<b>Layers</b> — {what}{classes} with weights{html.escape(version)} "
            f"({'Keras 3' if reader.layout == 'keras3' else 'Keras 2 / legacy HDF5'} file)")


def _value(v) -> str:
    if isinstance(v, dict) and "class_name" in v:        # an initializer, a dtype policy
        inner = v.get("config") or {}
        args = ", ".join(f"{k}={json.dumps(x)}" for k, x in inner.items()
                         if x is not None and not isinstance(x, dict))
        return f"{v['class_name']}({args})" if args else str(v["class_name"])
    return json.dumps(v) if not isinstance(v, str) else v


def layer_html(layer: KerasLayer) -> str:
    rows = [("Class", html.escape(layer.class_name or "not in the file (weights only)"))]
    for key, value in list(layer.config.items())[:MAX_CONFIG_ROWS]:
        if key == "name" or value is None:
            continue
        rows.append((key, html.escape(_value(value))[:300]))
    body = "".join(f"<tr><td class='k'>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<h4>Keras layer</h4><table cellspacing='0' cellpadding='3'>{body}</table>"
