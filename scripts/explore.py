"""Explore a generator in the browser: move it and watch what it draws.

    python scripts/explore.py outputs/cgan_fashion                 # a run: every snapshot, by epoch
    python scripts/explore.py outputs/infogan_mnist/generator.h5   # one generator file
    python scripts/explore.py outputs/pix2pix_sat2map --data-dir DIR

It prints a local address (127.0.0.1 only) to open in any browser; Ctrl-C stops it. The page
follows the generator's kind: a class picker for the conditional GANs, a grid of latent points
and a slider that walks them towards new ones, a button for new points; InfoGAN's categorical
value and a slider for each continuous code; Pix2Pix's translation of a validation pair or of a
tile you upload, beside the truth. Given a run folder, a snapshot picker draws the same inputs at
every epoch, beside that epoch's figures from metrics.csv. Nothing is written to disk.
"""
import time
from pathlib import Path

from ganlib import cli
from ganlib.saved import generator_in, recorded_data_dir


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("generator", help="a run's output folder (its snapshots) or a generator .h5 file")
    parser.add_argument("--port", type=cli.int_up_to(65535, minimum=0), default=0,
                        help="the port to listen on, on 127.0.0.1 (default: a free one)")
    parser.add_argument("--data-dir", default=None,
                        help="Pix2Pix: the folder holding maps/ (default: the one the run recorded)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    path = Path(args.generator)
    if not path.is_dir():
        generator_in(path)
    data_dir = args.data_dir or recorded_data_dir(path / "generator.h5" if path.is_dir() else path)
    cli.check_folders(data_dir=data_dir)
    from ganlib import explorer
    server = explorer.serve(explorer.Explorer(path, data_dir), args.port)
    print(f"exploring {path} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(0.2)
    except KeyboardInterrupt:  # Ctrl-C is how a user closes it: a clean stop, not a failure
        pass
    finally:
        server.shutdown()
        server.server_close()
    print("explorer stopped")


if __name__ == "__main__":
    cli.run_main(main)
