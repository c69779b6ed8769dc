"""ARCHITECTURE.md's layering, read from the source: every module has a declared layer and no import points up;
faces reach storage, passwords and the rate limiter only through services; services import no Flask and take no
Flask app; per-app state lives on the Runtime, not in module globals of the services."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "zipshort"

# Rank of each layer; a module may import only modules of the same or a lower rank. Every module of the package
# (subpackages included) belongs to the layer of its first name under zipshort/; ARCHITECTURE.md's diagram says
# the same (test_architecture_diagram_matches_the_layers).
LAYERS = {
    "config": 0, "errors": 0, "events": 0, "faults": 0, "extensions": 0, "periodic": 0, "dates": 0, "inputs": 0,
    "templatevars": 0,
    "security": 1, "codes": 1, "counters": 1, "destinations": 1, "database": 1, "ratelimit": 1, "runtime": 1,
    "models": 1, "storage": 1, "outbound": 1, "eventlog": 1, "geoip": 1,
    "useragents": 1, "telemetry": 1,
    "services": 2,
    "auth": 3, "errorhandlers": 3, "http": 3, "urls": 3, "access": 3,
    "api": 4, "web": 4, "public": 4, "migrations": 4,
    "__init__": 5, "__main__": 5, "cli": 5, "serving": 5,  # entry points assemble the app
}


def head_of(module: str) -> str:
    """``zipshort.api.zipline.urls`` → ``api``; the package itself is ``__init__``."""
    return module.split(".")[1] if module.count(".") else "__init__"


def layer_of(module: str) -> tuple[str, int]:
    head = head_of(module)
    assert head in LAYERS, f"{module}: {head!r} has no declared layer; add it to LAYERS (and ARCHITECTURE.md)"
    return head, LAYERS[head]


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, path


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def imports(path: Path, names: bool = False) -> Iterator[str]:
    """The modules ``path`` imports; with ``names``, also ``module.name`` for every ``from module import name``."""
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            if names:
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def service_modules() -> list[tuple[str, Path]]:
    return [(n, p) for n, p in modules() if head_of(n) == "services"]


# --- every module has a layer, and imports point down ----------------------------------------------------------

def test_every_module_has_a_declared_layer():
    undeclared = sorted(f"{rel(path)} ({head_of(name)})" for name, path in modules() if head_of(name) not in LAYERS)
    assert not undeclared, f"modules without a layer (add their head to LAYERS and ARCHITECTURE.md): {undeclared}"
    subpackages = {head_of(n) for n, p in modules() if p.parent != PACKAGE}
    assert subpackages >= {"api", "web", "public", "services", "models", "storage", "config", "migrations"}


def test_every_declared_layer_is_a_module_or_package():
    heads = {head_of(name) for name, _ in modules()}
    assert set(LAYERS) - heads == set(), "LAYERS names modules that do not exist any more"


def architecture_layers() -> dict[str, int]:
    """The layer diagram of ARCHITECTURE.md: ``name.py`` and ``name/…`` entries, left of each rank."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    found: dict[str, int] = {}
    rank = -1
    for line in block.splitlines():
        names = []
        for token in line.split():
            matched = re.fullmatch(r"(\w+)(?:\.py|/\S*)", token)
            if matched:
                names.append(matched.group(1))
            elif token.isdigit():
                rank = int(token)
                break
            elif not token.startswith("("):  # "(create_app)" explains the name before it; anything else is prose
                break
        found.update(dict.fromkeys(names, rank))
    return found


def test_architecture_diagram_matches_the_layers():
    assert architecture_layers() == LAYERS


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: str(v))
def test_imports_never_point_up(name, path):
    if name == "zipshort":
        return
    own_head, own_rank = layer_of(name)
    for target in imports(path):
        if not target.startswith("zipshort.") and target != "zipshort":
            continue
        head, rank = layer_of(target)
        assert rank <= own_rank, f"{name} (layer {own_head}) imports {target} (layer {head})"


# --- faces go through services ---------------------------------------------------------------------------------

FACE_HEADS = {"api", "web", "public", "cli"}
RUNTIME_ONLY = {"storage", "passwords", "limiter"}  # the Runtime's parts only services may use
SERVICE_ONLY_MODULES = {"zipshort.services.linkfields"}  # validation the link door runs itself

# Faces that still reach past a service. Each entry is "file:what" (an attribute of the runtime, or a module);
# the test fails when a face does anything not listed here, and when a listed entry no longer occurs, so this
# list only shrinks: delete entries as their uses move into services.
ALLOWED: set[str] = set()  # the uses issue 11 moved into services; empty, and it can only stay so

RUNTIME_GETTERS = {"runtime", "rt", "_runtime"}  # auth.runtime() and the faces' aliases of it


def face_modules() -> list[tuple[str, Path]]:
    return [(n, p) for n, p in modules() if head_of(n) in FACE_HEADS]


def _is_runtime(node: ast.AST, names: set[str]) -> bool:
    """Whether ``node`` evaluates to the Runtime: ``runtime()``/``rt()``/``auth.runtime()``, a name bound to one
    (or a parameter called ``rt`` or annotated ``Runtime``), or ``app.extensions["zipshort"]``."""
    if isinstance(node, ast.Call):
        func = node.func
        return (isinstance(func, ast.Name) and func.id in RUNTIME_GETTERS) or (
            isinstance(func, ast.Attribute) and func.attr == "runtime")
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Attribute) and node.value.attr == "extensions"
    return False


def runtime_names(tree: ast.AST) -> set[str]:
    """Names that hold the Runtime somewhere in the module."""
    names = {"rt"}
    for _ in range(3):  # aliases of aliases
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_runtime(node.value,
                                                                                                         names):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.arg) and "Runtime" in ast.unparse(node.annotation or ast.Constant("")):
                names.add(node.arg)
    return names


def face_reaches(path: Path) -> set[str]:
    """``file:attribute`` for every runtime part the module touches, ``file:module`` for every service-only import."""
    tree = tree_of(path)
    names = runtime_names(tree)
    found = {f"{rel(path)}:{node.attr}" for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr in RUNTIME_ONLY and _is_runtime(node.value, names)}
    found |= {f"{rel(path)}:{module}" for module in SERVICE_ONLY_MODULES for target in imports(path, names=True)
              if target == module or target.startswith(module + ".")}
    return found


def all_face_reaches() -> set[str]:
    return set().union(*(face_reaches(path) for _, path in face_modules()))


def test_faces_touch_no_runtime_part_and_no_service_only_module_beyond_the_allowed():
    extra = sorted(all_face_reaches() - ALLOWED)
    assert not extra, f"faces must call a service for these (rt.storage/passwords/limiter, linkfields): {extra}"


def test_every_allowed_face_exception_still_occurs():
    gone = sorted(ALLOWED - all_face_reaches())
    assert not gone, f"no longer needed, delete from ALLOWED so the list only shrinks: {gone}"


def test_the_face_rule_sees_every_way_to_reach_the_runtime(tmp_path):
    source = tmp_path / "face.py"
    source.write_text(
        "from zipshort.auth import runtime\n"
        "import zipshort.services.linkfields\n"
        "def a(): runtime().storage.open('k')\n"
        "def b(): r = runtime(); r.passwords.hash('x')\n"
        "def c(rt): rt.limiter.hit()\n"
        "def d(thing: Runtime): return thing.storage\n"
        "def e(app): return app.extensions['zipshort'].limiter\n")
    found = {entry.split(":", 1)[1] for entry in face_reaches(source)}
    assert found == {"storage", "passwords", "limiter", "zipshort.services.linkfields"}
    innocent = tmp_path / "innocent.py"
    innocent.write_text("from zipshort.services import links\n"
                        "def f(settings, s3): return settings.ratelimit.storage_uri, s3.storage, links.limiter\n")
    assert face_reaches(innocent) == set()


# --- services know no Flask ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,path", service_modules(), ids=str)
def test_services_do_not_import_flask(name, path):
    offenders = [t for t in imports(path) if t.split(".")[0] in ("flask", "flask_login", "flask_wtf")]
    assert not offenders, f"{name} imports {offenders}"


@pytest.mark.parametrize("name,path", service_modules(), ids=str)
def test_services_take_no_flask_app(name, path):
    """Services get the Runtime (and plain values), never the app: no parameter called ``app``, no ``current_app``."""
    tree = tree_of(path)
    params = [f"{fn.name}({arg.arg})" for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                                    ast.Lambda))
              for arg in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
              if arg.arg in ("app", "flask_app") or "Flask" in ast.unparse(arg.annotation or ast.Constant(""))]
    names = [f"line {n.lineno}: {n.id}" for n in ast.walk(tree) if isinstance(n, ast.Name)
             and n.id in ("app", "current_app")]
    assert not params and not names, f"{name} takes or reaches the Flask app: {params + names}"


# --- per-app state lives on the Runtime ------------------------------------------------------------------------

# Calls whose result cannot change: constants built once at import.
IMMUTABLE_FACTORIES = {
    "frozenset", "tuple", "MappingProxyType", "types.MappingProxyType", "re.compile", "object", "uuid.UUID",
    "dt.timedelta", "dt.datetime", "datetime.timedelta", "logging.getLogger",
    "select", "update", "delete", "insert", "text", "bindparam",  # SQLAlchemy statements are immutable (generative)
    "Reach",  # services/reach.py: a frozen dataclass of two strings and a bool (``ALL``)
}
MUTATORS = {"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault", "add",
            "discard", "sort", "reverse", "__setitem__", "__delitem__", "cache_clear"}
# Module state still to move; the test fails once an entry is gone, so the list only shrinks.
STATE_ALLOWED: set[str] = set()
# Memoised pure functions: the cache holds no per-app state, only results of the arguments.
PURE_CACHES = {
    "zipshort/services/smart.py:os_type",  # the OS family of a User-Agent string (ua-parser is slow)
    "zipshort/services/smart.py:preferred_languages",  # an Accept-Language header's q >= 0.9 tags (a tuple)
    "zipshort/services/smart.py:query_of",  # a query string's parameters (a read-only mapping)
}


def _root_call(node: ast.Call) -> str:
    """The innermost callee of a call chain: ``select(…).where(…)`` → ``select``; ``' '.join(…)`` → ``str``."""
    func: ast.AST = node.func
    while True:
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            func = func.value.func
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Constant):
            return type(func.value.value).__name__
        else:
            return ast.unparse(func)


LITERALS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)


def _mutable(value: ast.AST) -> bool:
    if isinstance(value, LITERALS):
        return True
    if isinstance(value, ast.Call):
        return _root_call(value) not in IMMUTABLE_FACTORIES | {"str", "bytes"}
    return False


def _constant_name(name: str) -> bool:
    return name == "__all__" or (name.lstrip("_").replace("_", "").isalnum() and name.lstrip("_").isupper())


def mutated_names() -> set[str]:
    """Every name the package mutates in place anywhere (``X[k] = …``, ``del X[k]``, ``X.update(…)``, ``X |= …``,
    ``global X``), as ``X`` for ``X…`` and ``module.X…`` alike."""

    def name_of(node: ast.AST) -> str | None:
        return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None

    names: set[str] = set()
    for _, path in modules():
        for node in ast.walk(tree_of(path)):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript):
                        names.add(name_of(target.value) or "")
                    elif isinstance(node, ast.AugAssign):
                        names.add(name_of(target) or "")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                names.add(name_of(node.func.value) or "")
            elif isinstance(node, ast.Global):
                names.update(node.names)
    return names


def module_state(path: Path, mutated: set[str]) -> list[str]:
    """What a module keeps at module level that could hold per-app state."""
    found = []
    for node in tree_of(path).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = ast.unparse(target)
                literal = isinstance(node.value, LITERALS) or (
                    isinstance(node.value, ast.Call) and _root_call(node.value) in ("dict", "list", "set"))
                if not _mutable(node.value):
                    continue
                if literal and _constant_name(name) and name not in mutated:
                    continue  # an UPPERCASE table nobody changes
                if f"{rel(path)}:{name}" not in STATE_ALLOWED:
                    found.append(f"{rel(path)}:{node.lineno} {name} = {ast.unparse(node.value)[:60]}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                text = ast.unparse(decorator)
                if re.search(r"\b(lru_cache|cache|cached_property)\b", text) and \
                        f"{rel(path)}:{node.name}" not in PURE_CACHES:
                    found.append(f"{rel(path)}:{node.lineno} @{text} {node.name}")
    return found


def test_every_allowed_module_state_still_occurs():
    present = {f"{rel(path)}:{ast.unparse(target)}" for _, path in service_modules() for node in tree_of(path).body
               if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
               for target in (node.targets if isinstance(node, ast.Assign) else [node.target])}
    assert STATE_ALLOWED <= present, f"gone, delete from STATE_ALLOWED: {sorted(STATE_ALLOWED - present)}"


@pytest.mark.parametrize("name,path", service_modules(), ids=str)
def test_services_keep_no_state_at_module_level(name, path):
    """Caches and registries of a service live on the Runtime (runtime.py), one per app; a module may hold only
    constants: frozenset/tuple/MappingProxyType/compiled patterns, or UPPERCASE tables nobody mutates."""
    state = module_state(path, mutated_names())
    assert not state, f"move to the Runtime (or make immutable): {state}"


def test_the_state_rule_sees_caches_registries_and_mutated_tables(tmp_path):
    source = tmp_path / "services_x.py"
    source.write_text(
        "import functools, re\n"
        "HOSTNAMES = CustomHostnames()\n"
        "_seen = {}\n"
        "SIZES = {'k': 1}\n"
        "UNITS = {'b': 1}\n"
        "PATTERN = re.compile('x')\n"
        "NAMES = frozenset({'a'})\n"
        "def grow(): SIZES['m'] = 2\n"
        "@functools.lru_cache(maxsize=8)\n"
        "def lookup(path): return open(path)\n")
    found = {entry.split(" ", 2)[1] for entry in module_state(source, {"SIZES"})}
    assert found == {"HOSTNAMES", "_seen", "SIZES", "@functools.lru_cache(maxsize=8)"}
