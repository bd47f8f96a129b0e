"""Prepare the Berkeley maps pairs for Pix2Pix without training: each 1200x600 JPEG of maps/train/
and maps/val/ resized to 256x512 and split into its satellite and map halves, saved beside them
as maps_256.npz and maps_256_val.npz. pix2pix_maps.py does the same on its first run.

    python scripts/prepare_maps.py                  # the maps/ folder in data/
    python scripts/prepare_maps.py --data-dir DIR   # ... or in DIR
"""
from ganlib import cli, data as gd


def main(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("--data-dir", default=None, help="the folder holding maps/ (default: data/)")
    args = parser.parse_args(argv)
    cli.check_folders(data_dir=args.data_dir)
    gd.prepare_maps(gd.find_maps(args.data_dir))


if __name__ == "__main__":
    cli.run_main(main)
