"""Web origins (`scheme://host[:port]`), as a FAQ's owner lists the sites its widget may be put
on: each checked and written one way, so "https://Shop.Example/" and "https://shop.example"
are one origin, and a path, a wildcard or a login in it is refused rather than guessed at."""

from __future__ import annotations

from urllib.parse import urlsplit

# At most this many sites a FAQ's widget may be put on.
MAX_ORIGINS = 50
# The longest origin written down (`https://` + a 253-character host + `:65535`).
MAX_ORIGIN_CHARS = 300
# The port a scheme means when an origin names none.
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(text: str) -> str:
    """`text` as an origin (`https://shop.example`, `http://localhost:8080`), or ValueError
    saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError("an origin is a string such as https://shop.example")
    given = text.strip()
    try:
        parts = urlsplit(given)
        port = parts.port
    except ValueError:
        raise ValueError(f"'{given}' is not an origin such as https://shop.example") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{given}' is not an origin: use http:// or https:// and a host")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError(f"'{given}' is not an origin: only scheme, host and port, no path")
    if "*" in parts.hostname:
        raise ValueError(f"'{given}': list each site, wildcards are not origins")
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    default = DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def normalise_origins(values: list[str]) -> tuple[str, ...]:
    """Each origin written one way, each once, at most MAX_ORIGINS."""
    found: list[str] = []
    for value in values:
        origin = normalise_origin(value)
        if origin not in found:
            found.append(origin)
    if len(found) > MAX_ORIGINS:
        raise ValueError(f"{len(found)} origins; a FAQ's widget may be on at most {MAX_ORIGINS} sites")
    return tuple(found)
