"""The API's contract: ``GET /api/openapi.json`` (OpenAPI 3.1, built with apispec) and ``GET /api/docs`` (Swagger UI,
vendored in static/vendor/swagger-ui).

Nothing here is kept by hand per route. Every API route of the URL map (the Zipline, hozip, h0p, hoko and Shlink
blueprints) becomes an operation: its path and path parameters from the rule and its converters, its security
from the view's :class:`zipshort.auth.Requirement` (scope, administrator, anonymous), its tag and error schema
from its dialect (the shapes errorhandlers.render_error writes). What only the view knows — query parameters,
request and response bodies — comes from its :func:`zipshort.api.contract.documented` declaration; an operation
without one is still in the document, with a permissive body and a success answer left undescribed.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Union, get_args

from apispec import APISpec
from flask import Blueprint, Flask, current_app, jsonify, render_template
from pydantic import BaseModel, TypeAdapter
from werkzeug.routing import Rule

from zipshort.api.contract import Contract, Open, contract_of, documented
from zipshort.auth import Requirement, public_route, requirement_of
from zipshort.errorhandlers import dialect_of

bp = Blueprint("openapi", __name__, url_prefix="/api")

API_PREFIXES = ("/api/", "/rest/", "/short-link")
API_EXACT = ("/api/links", "/short-link")
WRITES = ("post", "put", "patch")
REF = "#/components/schemas/{model}"


# --- the error bodies of each dialect (errorhandlers.render_error) ------------------------------------------------

class ZiplineError(Open):
    """Zipline v4: the message, the HTTP status and zipshort's machine code (an unknown route: ``message``, no code)."""

    error: str
    statusCode: int
    code: str | None = None
    message: str | None = None


class ZiplineV3Error(Open):
    """Zipline v3: the message and the HTTP status as ``code``."""

    error: str
    code: int


class HozipError(Open):
    """hozip (Django REST framework style)."""

    detail: str
    error_code: str


class H0pError(Open):
    """h0p (NestJS style)."""

    statusCode: int
    message: str
    error: str
    code: str


class HokoError(Open):
    """hoko; ``index``: the first refused link of a bulk request."""

    error: str
    code: str
    index: int | None = None


class ShlinkProblem(Open):
    """Shlink: an RFC 7807 problem (``application/problem+json``), with Shlink's extension members."""

    type: str
    title: str
    detail: str
    status: int


DIALECTS: dict[str, tuple[str, str, type[BaseModel]]] = {
    # dialect: (tag, description, error model)
    "zipline": ("Zipline", "Zipline v4's API (and zipshort's additions under /api)", ZiplineError),
    "zipline-v3": ("Zipline v3", "Zipline v3's endpoints old clients still call", ZiplineV3Error),
    "hozip": ("hozip", "hozip's external link API", HozipError),
    "h0p": ("h0p", "h0p's short-link API", H0pError),
    "hoko": ("hoko", "hoko's bulk link API", HokoError),
    "shlink": ("Shlink", "Shlink's REST API (v1, v2 and v3 answer alike)", ShlinkProblem),
}
# Routes whose error dialect the request chooses (v3 or v4 upload headers).
EITHER_ZIPLINE = {"/api/upload"}


def is_api(rule: Rule) -> bool:
    """Whether a route belongs to a program's API (and so to the document)."""
    return rule.endpoint != "static" and (rule.rule.startswith(API_PREFIXES) or rule.rule in API_EXACT)


# --- security ------------------------------------------------------------------------------------------------------

SECURITY_SCHEMES = {
    "keyHeader": {"type": "apiKey", "in": "header", "name": "Authorization",
                  "description": "The API key (or the Zipline token) as the whole `Authorization` header: "
                                 "`Authorization: <key>`, as Zipline's clients send it."},
    "tokenHeader": {"type": "http", "scheme": "token",
                    "description": "`Authorization: Token <key>` (hozip's style)."},
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`."},
    "xApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                "description": "`x-api-key: <key>`; Shlink's clients send it as `X-Api-Key` (header names are "
                               "case-insensitive). Used only when no `Authorization` header is sent."},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "A logged-in browser's session cookie (not for Shlink's routes). It passes every "
                               "scope check of its user; a state change needs a JSON body or `X-CSRF-Token`."},
}
KEY_SCHEMES = ("keyHeader", "tokenHeader", "bearer", "xApiKey")
SHLINK_QUERY_KEY = {"type": "apiKey", "in": "query", "name": "apiKey",
                    "description": "Shlink's `?apiKey=` on `GET /rest/v*/short-urls/shorten` only, with "
                                   "`[shlink] key_in_query` (on by default)."}


def _security(requirement: Requirement, dialect: str, endpoint: str) -> list[dict[str, list[str]]]:
    """The operation's security requirement: any of the key styles (and the session outside Shlink), each naming
    the scopes a key must hold; ``[]`` for an anonymous route; an empty alternative when a caller is optional."""
    if requirement.anonymous:
        return []
    scopes = [scope for scope in (("admin" if requirement.admin else None), requirement.scope) if scope]
    names = list(KEY_SCHEMES) + ([] if dialect == "shlink" else ["session"])
    if endpoint == "shlink.shorten":
        names.append("shlinkQueryKey")
    alternatives: list[dict[str, list[str]]] = [{name: scopes} for name in names]
    if requirement.note and "anonymous" in requirement.note:  # e.g. uploads into a folder open for uploads
        alternatives.append({})
    return alternatives


def _describe_requirement(requirement: Requirement) -> str:
    return f"Requires: {requirement.describe()}."


# --- schemas -------------------------------------------------------------------------------------------------------

class _Schemas:
    """JSON Schemas of the models an operation names, collected as components (pydantic's ``$defs`` included)."""

    def __init__(self, spec: APISpec) -> None:
        self.spec = spec
        self.done: set[str] = set()

    def ref(self, model: Any) -> dict[str, Any]:
        """A schema for ``model``: a ``$ref`` to its component for a BaseModel, inline for anything else."""
        schema = TypeAdapter(model).json_schema(ref_template=REF, mode="serialization")
        for name, definition in schema.pop("$defs", {}).items():
            self._add(name, definition)
        if isinstance(model, type) and issubclass(model, BaseModel):
            self._add(model.__name__, schema)
            return {"$ref": REF.format(model=model.__name__)}
        return schema

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        if name not in self.done:
            self.done.add(name)
            self.spec.components.schema(name, schema)


PERMISSIVE_BODY = {"description": "Not described in this document: see the dialect's page in docs/api/.",
                   "required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
UNDESCRIBED = {"description": "Success (the body is not described in this document)."}
ARGUMENT = re.compile(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_]+)>")
CONVERTER_TYPES: dict[str, dict[str, Any]] = {
    "IntegerConverter": {"type": "integer"}, "FloatConverter": {"type": "number"},
    "UUIDConverter": {"type": "string", "format": "uuid"}}


def openapi_path(rule: str) -> str:
    """``/rest/v3/short-urls/<code>`` → ``/rest/v3/short-urls/{code}``."""
    return ARGUMENT.sub(r"{\1}", rule)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    parameters = []
    for name in ARGUMENT.findall(rule.rule):
        converter = type(rule._converters[name]).__name__
        schema: dict[str, Any] = CONVERTER_TYPES.get(converter) or {"type": "string", "minLength": 1,
                                                                     "pattern": "^[^/\\x00]+$"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _without_none(annotation: Any) -> Any:
    """``X | None`` → ``X``: an optional query parameter is left out, never sent as null."""
    args = get_args(annotation)
    if type(None) not in args:
        return annotation
    rest = tuple(arg for arg in args if arg is not type(None))
    return rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    parameters = []
    for name, info in model.model_fields.items():
        schema = schemas.ref(_without_none(info.annotation))
        parameter: dict[str, Any] = {"name": info.alias or name, "in": "query", "required": info.is_required(),
                                     "schema": schema}
        if info.description:
            parameter["description"] = info.description
        if "[]" in (info.alias or ""):
            parameter["style"], parameter["explode"] = "form", True
        parameters.append(parameter)
    return parameters


def _error_responses(dialect: str, path: str, schemas: _Schemas) -> dict[str, Any]:
    if path in EITHER_ZIPLINE:
        schema: dict[str, Any] = {"anyOf": [schemas.ref(ZiplineError), schemas.ref(ZiplineV3Error)]}
    else:
        schema = schemas.ref(DIALECTS[dialect][2])
    media = "application/problem+json" if dialect == "shlink" else "application/json"
    error = {"content": {media: {"schema": schema}}}
    return {"4XX": {"description": "Refused: the error in this dialect's shape.", **error},
            "503": {"description": "The database is unavailable for a moment (`Retry-After`).", **error},
            "507": {"description": "Storage is full.", **error}}


def _operation(rule: Rule, method: str, requirement: Requirement, contract: Contract | None,
               schemas: _Schemas) -> dict[str, Any]:
    dialect = dialect_of(rule.rule)
    operation: dict[str, Any] = {
        "operationId": f"{method}:{rule.rule}",
        "tags": [DIALECTS[dialect][0]],
        "summary": (contract.summary if contract and contract.summary else rule.endpoint.replace("_", " ")),
        "description": _describe_requirement(requirement),
        "security": _security(requirement, dialect, rule.endpoint),
    }
    parameters = _path_parameters(rule)
    if contract and contract.query is not None:
        parameters += _query_parameters(contract.query, schemas)
    if parameters:
        operation["parameters"] = parameters
    if contract and contract.multipart is not None:
        operation["requestBody"] = {"required": True, "content": {
            "multipart/form-data": {"schema": schemas.ref(contract.multipart)}}}
    elif contract and contract.body is not None:
        operation["requestBody"] = {"required": contract.body_required, "content": {
            "application/json": {"schema": schemas.ref(contract.body)}}}
    elif method in WRITES:
        operation["requestBody"] = PERMISSIVE_BODY
    responses: dict[str, Any] = {}
    if contract and contract.responses:
        for status, model in contract.responses.items():
            answer: dict[str, Any] = {"description": "Success."}
            if model is not None:
                media = contract.content_types.get(status, "application/json")
                answer["content"] = {media: {"schema": schemas.ref(model)}}
                for other in contract.also:
                    answer["content"][other] = {"schema": {"type": "string"}}
            responses[str(status)] = answer
    else:
        responses["2XX"] = UNDESCRIBED
    errors = _error_responses(dialect, rule.rule, schemas)
    for code in (contract.errors if contract else ()):
        errors[str(code)] = {**errors["4XX"], "description": "Refused (see the summary)."}
    for name, error in errors.items():
        responses.setdefault(name, error)  # a status the view declared keeps its own body
    operation["responses"] = responses
    return operation


def api_operations(app: Flask) -> Iterable[tuple[Rule, str]]:
    """Every (rule, method) of the API, in the URL map's order; HEAD and OPTIONS are Flask's, not operations."""
    for rule in app.url_map.iter_rules():
        if is_api(rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method.lower()


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s API."""
    spec = APISpec(title="zipshort API", version=_version(), openapi_version="3.1.0", info={
        "description": "Every API route zipshort serves, in the six dialects it speaks. Generated from the URL "
                       "map and the views' declarations; see docs/api/openapi.md for what is described.",
        "license": {"name": "MIT", "identifier": "MIT"}})
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    spec.components.security_scheme("shlinkQueryKey", SHLINK_QUERY_KEY)
    for tag, description, _ in DIALECTS.values():
        spec.tag({"name": tag, "description": description})
    schemas = _Schemas(spec)
    paths: dict[str, dict[str, Any]] = {}
    for rule, method in api_operations(app):
        view = app.view_functions[rule.endpoint]
        requirement = requirement_of(view) or Requirement()
        paths.setdefault(rule.rule, {})[method] = _operation(rule, method, requirement, contract_of(view), schemas)
    for rule_path, operations in paths.items():
        spec.path(path=openapi_path(rule_path), operations=operations)
    return spec.to_dict()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zipshort")
    except PackageNotFoundError:
        return "0"


# --- the routes ----------------------------------------------------------------------------------------------------

@bp.get("/openapi.json")
@documented("This document", responses={200: dict[str, Any]})
@public_route("the API's OpenAPI 3.1 document: routes, scopes and bodies, no data")
def openapi_document():
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    document = app.extensions.get("zipshort.openapi")
    if document is None:  # the URL map is fixed once the app serves: build it once per app
        document = app.extensions["zipshort.openapi"] = build_document(app)
    return jsonify(document)


@bp.get("/docs")
@documented("The API reference page", responses={200: str}, content_types={200: "text/html"})
@public_route("the API reference page (Swagger UI over /api/openapi.json)")
def api_docs():
    return render_template("api_docs.html")
