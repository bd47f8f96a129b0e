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


@pytest.mark.parametrize("tool", ["report", "sample", "explore", "evaluate", "launch", "prepare_maps",
                                  "ganlib.settings", "ganlib.run_folder", "ganlib.kinds", "ganlib.explorer"])
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
    "define_gan": ["g_model", "d_model"],
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


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_every_define_function_takes_its_settings_one_way(script):
    """As the tutorials do: models as parameters, each setting a keyword whose default is the
    script's constant; only define_models reads the parsed settings."""
    module = importlib.import_module(script)
    for name, function in vars(module).items():
        if not name.startswith("define_") or name == "define_models" or not callable(function):
            continue
        for parameter in inspect.signature(function).parameters.values():
            assert parameter.name != "settings", f"{script}.{name}"
            constant = parameter.name.upper()
            if constant in vars(module) and parameter.default is not parameter.empty:
                assert parameter.default == vars(module)[constant], f"{script}.{name}({parameter.name})"


MUTATORS = {"append", "extend", "insert", "update", "clear", "pop", "popitem", "setdefault", "add", "remove",
            "discard"}


def module_state_writes(trees):
    """Where the package writes module-level state after import: a `global` statement, a
    module-level dict, list or set changed in place, or a name imported from the package
    assigned to or changed (`files.WRITER = False`, `STOP.update(...)`), or a module of ours
    reached through sys.modules. `trees`: {module name: its parsed source}."""
    found = []
    for name, tree in trees.items():
        mutable = {target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                   for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                   if isinstance(target, ast.Name) and isinstance(node.value, (ast.Dict, ast.List, ast.Set,
                                                                                ast.DictComp, ast.ListComp, ast.SetComp))}
        ours = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
                if (getattr(node, "module", None) or alias.name).startswith("ganlib")}
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

        def root(node):
            while isinstance(node, (ast.Attribute, ast.Subscript)):
                node = node.value
            return node.id if isinstance(node, ast.Name) else None

        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found.append(f"{name}: global {', '.join(node.names)}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                owner = root(node.func.value)
                if owner in mutable or owner in ours:
                    found.append(f"{name}: {ast.unparse(node.func)}(...)")
            elif isinstance(node, (ast.Assign, ast.AugAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    owner = root(target) if isinstance(target, (ast.Attribute, ast.Subscript)) else None
                    if (owner in mutable and node not in tree.body) or owner in ours:
                        found.append(f"{name}: {ast.unparse(target)} =")
            elif (isinstance(node, ast.Attribute) and node.attr == "modules" and isinstance(node.value, ast.Name)
                  and node.value.id == "sys"):
                parent = parents.get(node)
                looked_up = (parent.slice if isinstance(parent, ast.Subscript) else
                             parents[parent].args[0] if isinstance(parents.get(parent), ast.Call) else None)
                if isinstance(looked_up, ast.Constant) and str(looked_up.value).startswith("ganlib"):
                    found.append(f"{name}: sys.modules")
    return found


def test_no_module_level_state_is_written_after_import():
    """What a run needs to stop, fail or write is the run's own (run.Run), not a module's."""
    trees = {name: ast.parse(path.read_text()) for name, path in MODULES.items() if name.startswith("ganlib.")}
    assert module_state_writes(trees) == []


def test_the_check_of_module_state_finds_what_the_package_once_held():
    """cli.STOP, cli.FAILURE_HANDLERS, files.WRITER, folder's held locks, and cli reaching into
    devices through sys.modules."""
    held = ast.parse('''
import sys
from ganlib.cli import STOP
HELD = {}
FAILURE_HANDLERS = []
def request():
    STOP["requested"] = True
def hold(lock):
    HELD[lock.name] = lock
def register(handler):
    FAILURE_HANDLERS.append(handler)
def join():
    from ganlib import files
    files.WRITER = False
def several():
    return sys.modules.get("ganlib.devices")
def main_file():
    return sys.modules["__main__"]
''')
    assert sorted(module_state_writes({"old": held})) == [
        "old: FAILURE_HANDLERS.append(...)", "old: HELD[lock.name] =", "old: STOP['requested'] =", "old: files.WRITER =",
        "old: sys.modules"]


def test_the_step_from_train_to_the_compiled_program_takes_three_library_files():
    """run.compiled (run.py) makes a step.CompiledStep, whose one door to Keras is step.standing_in;
    the averaged generator's formula is average.py's. The step's module reads no other of ours."""
    assert {m for m in imports("ganlib.step", top_level_only=False) if m.startswith("ganlib.")} == {
        "ganlib.start", "ganlib.average"}
    tree = ast.parse(MODULES["ganlib.step"].read_text())
    assignments = [node for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   for target in node.targets if isinstance(target, ast.Attribute) and target.attr == "train_on_batch"]
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 for inner in ast.walk(node) if inner in assignments}
    assert functions == {"standing_in"}
    assert not [p for p in MODULES if p != "ganlib.step" and ".train_on_batch =" in MODULES[p].read_text()]
