"""A run's settings: every constant at the top of a training script is a flag of its name
(`LEARNING_RATE` is `--learning-rate`; the tutorials' `--epochs` and `--batch-size` for N_EPOCHS
and N_BATCH), checked by its type, helped by the comment on its line; and the flags every run has.

Standard library and NumPy only, so that a script's command line is checked before Keras loads
(`preflight`, called by ganlib.start): --help, a mistyped flag or a bad value answer at once.
"""
import argparse
import ast
import re
from pathlib import Path
from types import SimpleNamespace

from ganlib import cli, run_folder
from ganlib.atomic_files import REPO_DIR
from ganlib.readback import MAX_LATENT_DIM

EVAL_SAMPLES = 2000  # generated images behind each summary's metrics (metrics_log.py)
MAX_SAMPLES = 50000  # the most any flag asks for: the usual count for a published FID
BATCHNORM_CHOICES = ["batch-statistics", "trainable", "frozen"]  # tutorial.freeze_discriminator
PRECISIONS = ["float16", "bfloat16"]  # Keras' mixed_float16 and mixed_bfloat16 policies

TUTORIAL_FLAGS = {"N_EPOCHS": "--epochs", "N_BATCH": "--batch-size"}
# The constants most scripts share: their type and help (a script's own comment on the line wins).
SHARED_CONSTANTS = {
    "N_EPOCHS": (cli.positive_int, "epochs to train, in all"),
    "N_BATCH": (cli.positive_int, "images a step"),
    "EVAL_EVERY": (cli.positive_int, "epochs between summaries: metrics, sample grids and generator snapshots"),
    "CHECKPOINT_EVERY": (cli.positive_int, "epochs between checkpoints (one is also written on Ctrl-C)"),
    "EMA_DECAY": (cli.fraction, "decay of the generator's moving average, which the grids, snapshots and metrics "
                                "use; 0 turns it off (the tutorial)"),
    "LATENT_DIM": (cli.int_up_to(MAX_LATENT_DIM), "size of the generator's latent input"),
    "LEARNING_RATE": (cli.positive_float, "Adam's learning rate"),
    "BETA_1": (cli.fraction, "Adam's first-moment decay"),
    "BATCHNORM_IN_COMPOSITE": (BATCHNORM_CHOICES, "the discriminator's BatchNormalization in the generator's "
                                                  "update (see the script's docstring)"),
}
TYPE_OF_VALUE = {bool: None, int: cli.non_negative_int, float: cli.non_negative_float, str: str}
# Settings a resumed run must share with its checkpoint, as every script has them: they shape the
# models or what the checkpoint's state means. A script adds its own in FIXED_ON_RESUME.
SHARED_FIXED_ON_RESUME = {"LATENT_DIM", "N_BATCH", "BATCHNORM_IN_COMPOSITE", "EMA_DECAY", "EMA_HALF_LIFE"}
# Flags about this invocation rather than the run: not shown among a run's settings.
INVOCATION_FLAGS = {"out", "resume", "fresh"}
# A setting that only acts while another is above 0: {setting: (the other, what it does)}, refused in one line otherwise
SETTINGS_THAT_NEED_ANOTHER = {"ema_half_life": ("ema_decay", "sets the averaged generator's rule"),
                              "elastic_distortion": ("consistency_weight", "distorts the consistency term's copies")}


class Settings(SimpleNamespace):
    """A run's settings: the training script's constants under their lower-case names (N_BATCH is
    `n_batch`), as the flags left them, the run's own flags (out, seed, resume, data_dir, ...),
    and `script`, the script's name."""

    def constants(self):
        """{CONSTANT: value}: the script's constants, edits from the command line included."""
        return {name.upper(): getattr(self, name) for name in self._constant_names}

    def recorded(self):
        """Every setting by its name (n_batch), as the checkpoint keeps them."""
        return {name: str(value) if isinstance(value, Path) else value for name, value in vars(self).items()
                if not name.startswith("_") and value is not None}

    def by_flag(self):
        """Every setting under the flag a user types (--batch-size), for run.json and the report."""
        return {flag: self.recorded()[name] for name, flag in self._flags.items()
                if name in self.recorded() and name not in INVOCATION_FLAGS}

    def fixed_on_resume(self):
        """{name: value} of the settings a resumed run must share with its checkpoint."""
        fixed = {name.lower() for name in SHARED_FIXED_ON_RESUME | set(self._fixed)}
        return {name: value for name, value in self.recorded().items() if name in fixed}

    def flag(self, name):
        """The flag that sets `name`: flag("n_batch") is "--batch-size"."""
        return self._flags.get(name, "--" + name.replace("_", "-"))

    def hold_folder(self, lock):
        """The output folder's lock (run_folder.claim), held from prepare_run to the run's end."""
        self._folder_lock = lock

    def release_folder(self):
        run_folder.release(getattr(self, "_folder_lock", None))


def script_constants(script):
    """{NAME: value} of a script's settings: its UPPER_CASE constants that are numbers, strings,
    truth values, lists or tuples (as lists)."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in script.items()
            if name.isupper() and isinstance(value, (bool, int, float, str, list, tuple))}


def constant_comments(source):
    """{NAME: the comment on its line} in a script's source."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*) = [^#\n]*#\s*(.+)$", source, re.M))


def flag_of(name):
    return TUTORIAL_FLAGS.get(name, "--" + name.lower().replace("_", "-"))


def add_constant_flag(parser, name, value, script_types, comments):
    check, help_text = SHARED_CONSTANTS.get(name, (None, None))
    check = script_types.get(name, check) or TYPE_OF_VALUE.get(type(value), cli.comma_list)
    help_text = comments.get(name) or help_text or name.lower().replace("_", " ")
    flag, dest = flag_of(name), name.lower()
    if isinstance(value, bool):
        parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=value, help=help_text)
    elif isinstance(check, (list, tuple, range)):
        choices = [str(c) for c in check]
        convert = type(value)
        parser.add_argument(flag, dest=dest, choices=[convert(c) for c in choices], type=convert, default=value,
                            metavar="{" + ",".join(choices) + "}" if len(choices) < 8 else None, help=help_text)
    else:
        parser.add_argument(flag, dest=dest, type=check, default=value, help=help_text)
    return flag


def add_run_flags(parser, name, folders=None):
    """The flags every training run has, beside its script's constants; `folders`: how --help
    names the default output folder (default_folders), else outputs/<name>/."""
    parser.add_argument("--steps-per-epoch", type=cli.positive_int, default=None,
                        help="steps per epoch (default: one pass over the dataset)")
    parser.add_argument("--data-dir", default=None, help="a folder holding the dataset files (default: data/, "
                                                         "Keras' cache, then /usr/share/datasets)")
    parser.add_argument("--out", default=None, help=f"output folder (default: {folders or f'outputs/{name}/'})")
    parser.add_argument("--seed", type=cli.seed, default=None,
                        help=f"seed for repeatable runs, 0 to {cli.MAX_SEED} (default: a new one each run)")
    parser.add_argument("--resume", action="store_true", help="go on from the output folder's checkpoint")
    parser.add_argument("--fresh", action="store_true",
                        help="start over in an output folder that holds a run, moving its files into a dated "
                             "subfolder first")
    parser.add_argument("--eval-samples", type=cli.int_up_to(MAX_SAMPLES, minimum=0), default=EVAL_SAMPLES,
                        help="images (Pix2Pix: validation pairs) measured at each summary into metrics.csv, "
                             f"at most {MAX_SAMPLES:,}; 0 skips the measuring and the judge")
    parser.add_argument("--judge-dir", default=None,
                        help="where judges for datasets without a shipped one are cached "
                             "(default: judges/ under KERAS_HOME or ~/.keras)")
    parser.add_argument("--ema-half-life", type=cli.non_negative_int, default=0, metavar="IMAGES",
                        help="average the generator with StyleGAN2-ADA's rule instead of EMA_DECAY's: an update's "
                             "weight halves every IMAGES images (10000 in that paper), over at most 5%% of the "
                             "images seen so far (default: 0, EMA_DECAY's rule)")
    parser.add_argument("--eager", action="store_true",
                        help="run each update as its own Keras call, as the tutorial does, instead of one compiled "
                             "step (slower; to step through the updates one by one)")
    add_device_flags(parser)


def devices_flag(text):
    """--devices: a positive count, or "all"."""
    if text == "all":
        return text
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of devices nor 'all'")
    return cli.positive_int(text)


def add_device_flags(parser):
    parser.add_argument("--devices", type=devices_flag, default=None,
                        help="devices to train on, data-parallel (a number, or all): JAX backend only; "
                             "the batch is split between them (default: 1; all in a run of several processes)")
    parser.add_argument("--mixed-precision", nargs="?", const="float16", choices=PRECISIONS, default=None,
                        help="compute in float16 (or bfloat16: TPUs) with float32 weights and loss scaling; "
                             "for GPUs: refused on a CPU, where it is about 10x slower")


def given_on_command_line(parser, argv):
    """The destinations of the flags `argv` gives explicitly."""
    defaults = {action: action.default for action in parser._actions}
    for action in defaults:
        action.default = argparse.SUPPRESS
    try:
        return set(vars(parser.parse_args(argv)))
    finally:
        for action, default in defaults.items():
            action.default = default


def parse(name, doc, constants, script_types, comments, fixed, argv=None, presets=None, folders=None):
    """Settings from a command line, given a script's constants (script_constants), its FLAG_TYPES,
    the comments on its constants' lines, its FIXED_ON_RESUME and its PRESETS: {preset: {CONSTANT:
    value}}, applied by --preset to every constant the command line does not set itself."""
    parser = cli.ArgumentParser(doc)
    flags = {}
    for constant, value in constants.items():
        if type(value) in TYPE_OF_VALUE or constant in script_types:  # others, such as shapes, are not flags
            flags[constant.lower()] = add_constant_flag(parser, constant, value, script_types, comments)
    add_run_flags(parser, name, folders)
    settings = Settings(script=name, **{constant.lower(): value for constant, value in constants.items()})
    parsed = parser.parse_args(argv)
    vars(settings).update(vars(parsed))
    preset = (presets or {}).get(getattr(settings, "preset", None), {})
    if preset:
        given = given_on_command_line(parser, argv)
        vars(settings).update({constant.lower(): value for constant, value in preset.items()
                               if constant.lower() not in given})
    for setting, (needed, what) in SETTINGS_THAT_NEED_ANOTHER.items():
        if getattr(settings, setting, 0) and not getattr(settings, needed, 0):
            parser.error(f"{flag_of(setting.upper())} {what}, which {flag_of(needed.upper())} 0 turns off")
    settings._constant_names = [constant.lower() for constant in constants]
    settings._flags = dict({action.dest: action.option_strings[0] for action in parser._actions
                            if action.option_strings and action.dest != "help"}, **flags)
    settings._fixed = set(fixed)
    cli.check_folders(data_dir=getattr(settings, "data_dir", None), judge_dir=getattr(settings, "judge_dir", None))
    return settings


def parse_settings(script, argv=None):
    """The settings of a run of the training script whose globals() are `script`: every constant
    at its top, overridable by a flag of its own, and the flags every run has."""
    path = Path(script["__file__"])
    return parse(path.stem, script["__doc__"], script_constants(script), script.get("FLAG_TYPES", {}),
                 constant_comments(path.read_text()), script.get("FIXED_ON_RESUME", set()), argv,
                 script.get("PRESETS"), default_folders(path))


def default_folders(path):
    """The default output folder in words, from the name a script's prepare_run call gives it:
    "outputs/pix2pix_<direction>/"; "outputs/cgan_fashion/ or outputs/cgan_<dataset>/"."""
    named = prepare_run_name(ast.parse(Path(path).read_text()))
    if named is None:
        return f"outputs/{Path(path).stem}/"

    def words(node):
        if isinstance(node, ast.IfExp):
            return words(node.body) + words(node.orelse)
        if isinstance(node, ast.JoinedStr):
            return ["".join(str(part.value) if isinstance(part, ast.Constant) else
                            f"<{getattr(part.value, 'attr', 'setting')}>" for part in node.values)]
        return [node.value] if isinstance(node, ast.Constant) else ["<name>"]

    return " or ".join(f"outputs/{name}/" for name in words(named))


def prepare_run_name(tree):
    """The expression a script's prepare_run call names its output folder with, or None (the
    script's own name)."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "attr", getattr(node.func, "id", None)) == "prepare_run"]
    named = [keyword.value for call in calls[:1] for keyword in call.keywords if keyword.arg == "out_name"]
    return named[0] if named else None


def read_script(path):
    """(docstring, constants, FLAG_TYPES, FIXED_ON_RESUME, PRESETS, out_name) of a training script, read from
    its source without running it, so that its command line can be checked before Keras loads;
    `out_name(settings)` gives the name of its default output folder (its prepare_run call's), or
    None where that name is not plain enough to work out. None when a constant is not plain enough
    to read so (the check then waits for the script's own parse), and for a script that is not a
    training script (it calls no prepare_run)."""
    tree = ast.parse(Path(path).read_text())
    if not [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "prepare_run"]:
        return None  # a tool (sample.py, evaluate.py), not a training script
    constants, tables = {}, {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()):
            continue
        name = node.targets[0].id
        try:
            if name == "FLAG_TYPES":  # flag types are functions (cli.fraction) and ranges: no literal
                tables[name] = _evaluate(node.value, path, cli=cli, range=range)
            elif name in ("FIXED_ON_RESUME", "PRESETS"):
                tables[name] = ast.literal_eval(node.value)
            else:
                constants[name] = ast.literal_eval(node.value)
        except (ValueError, TypeError, NameError, AttributeError, SyntaxError):
            return None
    named = prepare_run_name(tree)

    def out_name(settings):
        if named is None:
            return settings.script
        try:
            return str(_evaluate(named, path, settings=settings))
        except Exception:  # noqa: BLE001  anything beyond plain expressions of the settings
            return None

    return (ast.get_docstring(tree) or "", script_constants(constants), tables.get("FLAG_TYPES", {}),
            tables.get("FIXED_ON_RESUME", set()), tables.get("PRESETS"), out_name)


def _evaluate(expression, path, **names):
    """A constant expression of the user's own script (which runs anyway), with only `names` known."""
    return eval(compile(ast.Expression(expression), str(path), "eval"), {"__builtins__": {}, **names})  # noqa: S307


def default_out(name):
    return REPO_DIR / "outputs" / name
