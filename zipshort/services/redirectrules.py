"""A link's rules as a flat list of condition sets (Shlink's redirect rules), and the door that replaces them all.

The stored rule (services/linkfields.py ``validate_rules``) keeps h0p's lists — countries, languages, osTypes,
each matching when *any* of its values does — and ``conditions`` (Shlink's types, services/conditions.py),
which must *all* match. A flat rule has conditions only, so :func:`flatten` multiplies a rule's lists out: a
rule for countries ``[US, CA]`` and osTypes ``[ios]`` reads as two flat rules with the same destination and
consecutive priorities, ``[country US, device ios]`` then ``[country CA, device ios]``. Each list value has the
same meaning as its condition (a country as ``geolocation-country-code``, a language as ``language``, an
osType as ``device``), and the rules between them keep their order, so the flat list sends every visitor where
the stored one does. Rules written flat (:func:`set_rules`) are stored with their conditions and empty lists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from zipshort.models import Link, User
from zipshort.runtime import Runtime
from zipshort.services.linkfields import target_of
from zipshort.services.links import FieldNames, LinkChanges, update_link

# Each of h0p's lists and the condition type its values are.
LIST_CONDITIONS = (("countries", "geolocation-country-code"), ("languages", "language"), ("osTypes", "device"))


@dataclass(frozen=True)
class FlatRule:
    """One rule as Shlink shows it: where it sends (``url``: ``mailto:``/``tel:`` for e-mail and phone
    destinations), its place in the order (1..n) and its conditions, all of which must match."""

    url: str
    priority: int
    conditions: tuple[dict[str, Any], ...]


def _condition(kind: str, value: str) -> dict[str, Any]:
    return {"type": kind, "matchKey": None, "matchValue": value}


def flatten(rules: list[dict[str, Any]] | None) -> list[FlatRule]:
    """The stored rules as flat rules, by priority, numbered 1..n (see the module's docstring)."""
    flat: list[FlatRule] = []
    for rule in sorted(rules or [], key=lambda r: r.get("priority", 0)):
        url = target_of(rule["destination"]["type"], rule["destination"]["value"])
        choices: list[list[dict[str, Any] | None]] = [
            [_condition(kind, value) for value in rule.get(key) or []] or [None] for key, kind in LIST_CONDITIONS]
        for combination in itertools.product(*choices):
            conditions = tuple(c for c in combination if c is not None) + tuple(rule.get("conditions") or [])
            flat.append(FlatRule(url, len(flat) + 1, conditions))
    return flat


def default_url(link: Link) -> str:
    """Where a visit goes when no rule matches (``mailto:``/``tel:`` for e-mail and phone destinations)."""
    return target_of(link.destination_type, link.destination)


def destination_of(url: object) -> dict[str, Any]:
    """A flat rule's URL as a stored destination: ``mailto:`` an e-mail, ``tel:`` a phone number, else a link
    (validated by the door like any other)."""
    if isinstance(url, str) and url[:7].lower() == "mailto:":
        return {"type": "email", "value": url[7:]}
    if isinstance(url, str) and url[:4].lower() == "tel:":
        return {"type": "phone", "value": url[4:]}
    return {"type": "link", "value": url}


def set_rules(rt: Runtime, owner: User, link_id: str, rules: list[Any], *, host: str = "",
              names: FieldNames | None = None) -> Link:
    """Replace all of a link's rules with ``rules`` (each ``{"destination", "conditions"}``), in one transaction:
    priorities become 1..n in list order (any given are ignored), an empty list removes every rule. Validated
    like every rule (``names.rules`` in errors, the leaf at fault in ``extra["element"]``); publishes
    ``link.updated`` with ``changed=("rules",)``.

    Raises:
        ValidationError, NotFound, Forbidden (as ``links.update_link``).
    """
    numbered = [{**rule, "priority": i} if isinstance(rule, dict) else rule for i, rule in enumerate(rules, 1)]
    return update_link(rt, owner, link_id, LinkChanges(rules=numbered or None), host=host,
                       names=names or FieldNames())
