"""Shlink's REST API (v1, v2 and v3 alike, under ``/rest``): short URLs, tags, domains, health; visits and
redirect rules in their own modules. A translation only: parse, call the services, shape Shlink's objects;
errors are RFC 7807 problems (rendered by errorhandlers for the ``shlink`` dialect). See docs/api/shlink.md."""

from __future__ import annotations

from zipshort.api.shlink import domains, health, rules, shorturls, tags, visits  # noqa: F401  (register their routes)
from zipshort.api.shlink.common import bp

__all__ = ["bp"]
