"""URL text: telling a URL from a local path, and showing one without its secrets.

Pure string work (no network, no optional package), so that every layer can ask.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# user:password@ after a scheme, and a query string (signed URLs carry their signature there)
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]*@")
_QUERY = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s?#'\"]*)[?#][^\s'\"]*")


def is_url(path) -> bool:
    """A URL for fsspec (`s3://`, `gs://`, `https://`, `hf://`…); `file://` counts as local."""
    return isinstance(path, str) and bool(_SCHEME.match(path)) and not path.startswith("file://")


def scheme(url: str) -> str:
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else ""


def local_path(path: str) -> str:
    """`file:///x/y` → `/x/y`; anything else unchanged."""
    return path[len("file://"):] if isinstance(path, str) and path.startswith("file://") else path


def split_secret(url: str) -> tuple[str, str]:
    """(the URL without query string or fragment, the query string with its `?`)."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    return (url, "") if cut < 0 else (url[:cut], url[cut:])


def display(text: str) -> str:
    """Text fit to show or log: every URL in it loses its user:password@ and its query."""
    if "://" not in text:
        return text
    return _QUERY.sub(r"\1", _USERINFO.sub(r"\1", text))


def root_and_rest(url: str) -> tuple[str, str]:
    """`s3://bucket/run/x` → (`s3://`, `bucket/run/x`)."""
    m = _SCHEME.match(url)
    return (url[:m.end()], url[m.end():]) if m else ("", url)
