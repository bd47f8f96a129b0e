"""The first import of every training script. Before Keras loads (seconds, a minute on a busy
machine): a backend that cannot train here is named in one line (environment.py), then the
command line is checked from the script's source, so that --help, a mistyped flag, a bad value,
a folder that is not there and an output folder in use or holding a run all answer at once.
Then the backend is started (backend.py).

Only for a training script run from the shell: a script imported, or run by a test through
cli.run_main, checks its command line in main() as before.
"""
import os
import sys
from pathlib import Path

from ganlib.environment import backend_problem, chosen_backend


def preflight(path, argv):
    from ganlib import cli, folder, settings as gs
    read = gs.read_script(path)
    if read is None:
        return
    doc, constants, flag_types, fixed, presets, out_name = read
    try:
        settings = gs.parse(Path(path).stem, doc, constants, flag_types,
                            gs.constant_comments(Path(path).read_text()), fixed, argv, presets, gs.default_folders(path))
        cli.check_folders(data_dir=settings.data_dir, judge_dir=settings.judge_dir)
        name = None if settings.out else out_name(settings)
        out = Path(settings.out) if settings.out else gs.default_out(name) if name else None
        if out is not None and os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0") == "0":
            folder.prepare(out, resume=settings.resume, fresh=settings.fresh, epochs=settings.n_epochs)
    except cli.UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


_main_file = getattr(sys.modules.get("__main__"), "__file__", None)
if _main_file and Path(_main_file).resolve().parent == Path(__file__).resolve().parent.parent:
    _problem = backend_problem(chosen_backend())
    if _problem:
        print(f"error: {_problem}", file=sys.stderr)
        sys.exit(2)
    preflight(_main_file, sys.argv[1:])

import ganlib.backend  # noqa: E402,F401  then the backend, before Keras loads
