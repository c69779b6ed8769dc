"""What a view says about its bodies, for the OpenAPI document (api/openapi.py reads it).

Every API route is in the document whatever it declares here: its path, methods, path parameters and security
come from the URL map and the view's :class:`zipshort.auth.Requirement`. :func:`documented` adds what only the
view knows: a summary, the query parameters, the request body and the success responses, as pydantic models (or
any type pydantic turns into JSON Schema). Put it anywhere in the view's decorators below the route's.

The models describe what the view answers: a field it always sends is required, one it may leave out is not,
and every object allows more members than it names (``Open``), so a view may grow without breaking the contract.
Schemathesis checks the live server's answers against them (tests/api/test_openapi.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """An object that may carry members beyond those named (the base of every body model)."""

    model_config = ConfigDict(extra="allow")


# A destination in a request body: the pattern names a plain subset of what the doors take (any http or https URL
# validate_web_url accepts), so that generated requests reach the doors instead of failing validation.
WEB_URL = r"^https?://[a-z0-9]+(\.[a-z0-9]+)*(/[A-Za-z0-9._~-]*)*$"
WebUrl = Annotated[str, Field(json_schema_extra={"format": "uri", "pattern": WEB_URL})]


@dataclass(frozen=True)
class Contract:
    """One view's declaration: see :func:`documented`."""

    summary: str = ""
    query: type[BaseModel] | None = None
    body: Any = None
    body_required: bool = True
    multipart: type[BaseModel] | None = None
    responses: Mapping[int, Any] = field(default_factory=dict)
    content_types: Mapping[int, str] = field(default_factory=dict)
    also: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()


def documented(summary: str = "", *, query: type[BaseModel] | None = None, body: Any = None,
               body_required: bool = True, multipart: type[BaseModel] | None = None,
               responses: Mapping[int, Any] | None = None,
               content_types: Mapping[int, str] | None = None, also: tuple[str, ...] = (),
               errors: tuple[int, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a view's bodies for /api/openapi.json.

    ``query``: a model whose fields are the query parameters (all optional unless required in the model);
    ``body``: the JSON request body (``body_required=False`` when an empty body is accepted); ``multipart``: a
    model of the ``multipart/form-data`` fields instead (``bytes`` fields are files); ``responses``: status →
    the model of the answer (``None``: no body); ``content_types``: status → a media type other than JSON;
    ``also``: media types the success may come in instead, when the request asks (``text/plain``: the short URL
    alone; ``text/csv``);
    ``errors``: statuses beyond 4XX the view answers with its dialect's error (e.g. Shlink's 501).
    """
    contract = Contract(summary, query, body, body_required, multipart, dict(responses or {}),
                        dict(content_types or {}), tuple(also), tuple(errors))

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        view.zipshort_contract = contract  # type: ignore[attr-defined]
        return view

    return decorator


def contract_of(view: Callable[..., Any]) -> Contract | None:
    """The contract a view declared, if any (``functools.wraps`` carries it through ``require_user``)."""
    return getattr(view, "zipshort_contract", None)
