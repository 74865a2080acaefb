"""The layers hold: each imports only the layers below it, the core does no I/O, and only the platform list names a platform."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# What each part of bot/ may import from bot/ (besides itself). The web face and the entry points
# (the CLI and the demo) sit on top and may import every layer.
LAYERS: dict[str, set[str]] = {
    "core": set(),
    "metrics": set(),
    "config": {"core"},
    "storage": {"core"},
    "tracking": {"core", "config", "storage", "metrics"},
    "timekeeping": {"core", "storage", "tracking"},
    "delivery": {"core", "storage", "tracking", "metrics"},
    "framing": {"core", "tracking"},
    "summaries": {"core"},
    "services": {"core", "storage", "tracking", "timekeeping", "delivery", "framing", "summaries", "metrics"},
}
TOP = {"web", "cli", "cli_privacy", "demo"}
# The only modules of bot/ that may import a platform: the list of platforms, and the demo (a scripted Zoom meeting).
PLATFORM_IMPORTERS = {"bot.web.platforms", "bot.demo"}
# Libraries that do I/O or run an event loop: the core is plain functions on plain data.
IO_LIBRARIES = {"aiohttp", "asyncio", "sqlalchemy", "aiosqlite", "asyncpg", "psycopg2", "apscheduler", "zoomus", "msal", "requests", "socket"}
# Where platform names may stand as strings: the settings, which mirror the operator's file.
PLATFORM_WORDS_ALLOWED = {"bot.core.settings", "bot.config.settings_file", "bot.demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(top: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / top).rglob("*.py"))}


def imports(path: Path, name: str | None = None) -> set[str]:
    """Return every module a file imports, anywhere in it (inside functions and TYPE_CHECKING too)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def layer(module: str) -> str | None:
    """Return the part of bot/ a module belongs to: `core`, `storage`, ..., `services`, `cli`, `demo`."""
    parts = module.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else None


BOT = modules("bot")
INTEGRATIONS = modules("integrations")


@pytest.mark.parametrize("module", sorted(m for m in BOT if layer(m) in LAYERS))
def test_a_layer_imports_only_the_layers_below_it(module):
    own = layer(module)
    allowed = LAYERS[own] | {own}
    wrong = sorted(i for i in imports(BOT[module]) if (layer(i) or own) not in allowed and i.split(".")[0] == "bot")
    assert not wrong, f"{module} ({own}) may import only {sorted(allowed)}, not {wrong}"


def test_the_core_does_no_io():
    for module, path in BOT.items():
        if layer(module) == "core":
            libraries = {i.split(".")[0] for i in imports(path)}
            assert not libraries & IO_LIBRARIES, f"{module} imports {sorted(libraries & IO_LIBRARIES)}"


def test_only_the_web_face_and_the_entry_points_know_aiohttp_web():
    for module, path in BOT.items():
        if layer(module) not in TOP:
            assert not {"aiohttp.web", "aiohttp"} & imports(path), f"{module} imports aiohttp"


def test_only_the_platform_list_and_the_demo_import_a_platform():
    for module, path in BOT.items():
        platforms = sorted(i for i in imports(path) if i.startswith("integrations"))
        if module not in PLATFORM_IMPORTERS:
            assert not platforms, f"{module} imports {platforms}: hand it what it needs through bot.services instead"


def test_bot_names_no_platform_outside_the_settings():
    for module, path in BOT.items():
        if module in PLATFORM_WORDS_ALLOWED:
            continue
        words = {
            node.value
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value.split("_")[0].lower() in {"zoom", "teams"}
        }
        assert not words, f"{module} names a platform: {sorted(words)}"


def test_platforms_never_reach_into_the_web_face_or_each_other():
    for module, path in INTEGRATIONS.items():
        found = imports(path)
        assert not [i for i in found if layer(i) in TOP], f"{module} imports the web face or an entry point"
        platform = module.split(".")[1] if module.count(".") else None
        others = {i.split(".")[1] for i in found if i.startswith("integrations.") and i.count(".") >= 1} - {platform, "http"}
        assert not others, f"{module} imports another platform: {sorted(others)}"


def test_every_platform_offers_the_same_seam():
    from bot.web.platforms import PLATFORMS

    names = {p.__name__ for p in PLATFORMS}
    assert names == {m for m in INTEGRATIONS if m.count(".") == 1 and (ROOT / m.replace(".", "/")).is_dir()}
    for platform in PLATFORMS:
        assert callable(platform.enabled) and callable(platform.setup), platform.__name__


def test_no_import_cycles_between_modules():
    graph = {m: {i for i in imports(p) if i in BOT or i in INTEGRATIONS} - {m} for m, p in {**BOT, **INTEGRATIONS}.items()}
    # A package's __init__ importing its own modules is not a cycle worth reporting.
    graph = {m: {i for i in deps if not m.startswith(i + ".") and not i.startswith(m + ".")} for m, deps in graph.items()}
    visiting, done, cycles = set(), set(), []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append(trail[trail.index(node):] + [node])
            return
        visiting.add(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, trail + [nxt])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_import_reader_sees_relative_aliased_and_late_imports(tmp_path):
    """So that the checks above can fail: a core module reaching into the web face from inside a function."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..web import keys\n    import aiohttp.web as w\n", encoding="utf-8")
    found = imports(probe, "bot.core.probe")
    assert {"bot.web", "bot.web.keys", "aiohttp.web"} <= found
    assert layer("bot.web.keys") not in LAYERS["core"] | {"core"}
