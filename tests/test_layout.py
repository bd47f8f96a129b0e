"""The code's layout as docs/layout.md describes it, read statically from the source: the training
scripts and tools at the top of scripts/, the library below them in ganlib/, no import running
back up and no cycles, the tools that answer fast loading no Keras, no module but the kinds'
deciding anything by a kind's or a script's name, and the six scripts' tutorial helpers alike."""
import ast
import importlib
import inspect

import pytest

from conftest import REPO, TRAINING_SCRIPTS

SCRIPTS = REPO / "scripts"
LIBRARY = SCRIPTS / "ganlib"
TOOLS = ["sample", "explore", "evaluate", "report", "benchmark", "train_judges", "launch", "prepare_maps"]
BACKENDS = {"keras", "tensorflow", "jax", "torch"}


def module_name(path):
    return f"ganlib.{path.stem}" if path.parent == LIBRARY else path.stem


MODULES = {module_name(p): p for p in [*SCRIPTS.glob("*.py"), *LIBRARY.glob("*.py")] if p.stem != "__init__"}


def imports(name, top_level_only=True):
    """The modules `name` imports (ours by name, others by their package), at its top level only
    (the import it runs when loaded) or anywhere in it."""
    tree = ast.parse(MODULES[name].read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                      for alias in node.names}
    return {name if name in MODULES else name.split(".")[0] for name in found}


def loaded_by(name, seen=None):
    """Every module loading `name` loads, through top-level imports."""
    seen = set() if seen is None else seen
    for imported in imports(name):
        if imported not in seen:
            seen.add(imported)
            if imported in MODULES:
                loaded_by(imported, seen)
    return seen


def test_the_library_is_a_package_below_the_scripts_and_imports_nothing_above_it():
    assert set(TRAINING_SCRIPTS) | set(TOOLS) == {n for n in MODULES if not n.startswith("ganlib.")}
    for name in [n for n in MODULES if n.startswith("ganlib.")]:
        above = {m for m in imports(name, top_level_only=False) if m in MODULES and not m.startswith("ganlib.")}
        assert not above, f"{name} imports {above}"
    for tool in TOOLS:
        assert not set(TRAINING_SCRIPTS) & imports(tool, top_level_only=False), tool


def test_no_import_cycles():
    def visit(name, path):
        assert name not in path, " -> ".join([*path, name])
        for imported in imports(name):
            if imported in MODULES:
                visit(imported, [*path, name])

    for name in MODULES:
        visit(name, [])


@pytest.mark.parametrize("tool", ["report", "sample", "explore", "evaluate", "launch", "prepare_maps", "ganlib.start",
                                  "ganlib.settings", "ganlib.folder", "ganlib.kinds", "ganlib.explorer"])
def test_what_answers_fast_loads_no_keras_when_it_starts(tool):
    assert not BACKENDS & loaded_by(tool), sorted(BACKENDS & loaded_by(tool))


def names_compared(tree):
    """String constants a module compares with, tests for membership in, starts a string with, or
    looks up by: what it would decide behaviour by."""
    found = set()
    for node in ast.walk(tree):
        operands = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("startswith", "endswith"):
            operands = node.args
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        for operand in operands:
            for leaf in ast.walk(operand):
                if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                    found.add(leaf.value)
    return found


def test_no_module_but_the_kinds_decides_by_a_kinds_or_a_scripts_name():
    from ganlib.kinds import KINDS
    names = set(KINDS) | set(TRAINING_SCRIPTS) | {stem for kind in KINDS.values() for stem in kind.companions}
    for module, path in MODULES.items():
        if module != "ganlib.kinds":
            decided = names_compared(ast.parse(path.read_text())) & names
            assert not decided, f"{module} decides by {sorted(decided)}"


def test_the_check_of_names_finds_a_kind_compared():
    """The check above can fail."""
    assert "pix2pix" in names_compared(ast.parse('if info["kind"] == "pix2pix": pass'))
    assert "q_model" in names_compared(ast.parse('model = companions["q_model"]'))


HELPERS = {  # the tutorial's helpers, each with the same parameters in every script that has it
    "load_real_samples": ["settings", "split"],
    "generate_real_samples": ["dataset", "n_samples"],
    "generate_fake_samples": ["g_model", "inputs"],
    "summarize_performance": ["epoch", "g_model", "d_model", "dataset", "settings"],
    "define_gan": ["g_model", "d_model", "settings"],
    "define_models": ["settings"],
    "train": ["g_model", "d_model", "gan_model", "dataset", "settings"],
}


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_the_tutorial_helpers_have_one_signature_and_extras_come_last_by_keyword(script):
    module = importlib.import_module(script)
    for helper, expected in HELPERS.items():
        if not hasattr(module, helper):
            assert helper == "generate_real_samples", f"{script} has no {helper}"
            continue
        parameters = list(inspect.signature(getattr(module, helper)).parameters.values())
        assert [p.name for p in parameters[:len(expected)]] == expected, f"{script}.{helper}"
        extras = parameters[len(expected):]
        assert all(p.kind == p.KEYWORD_ONLY for p in extras), f"{script}.{helper}: {[p.name for p in extras]}"


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_every_constant_at_the_top_of_a_script_is_a_flag(script):
    """Constants are settings (flags) or tables about them (FLAG_TYPES, FIXED_ON_RESUME, PRESETS)."""
    from ganlib import settings as gs
    module = importlib.import_module(script)
    flags = gs.parse_settings(vars(module), []).by_flag()
    for name in [n for n in vars(module) if n.isupper()]:
        assert name in ("FLAG_TYPES", "FIXED_ON_RESUME", "PRESETS") or gs.flag_of(name) in flags, f"{script}.{name}"


def test_the_run_module_is_small():
    assert len((LIBRARY / "run.py").read_text().splitlines()) < 300
