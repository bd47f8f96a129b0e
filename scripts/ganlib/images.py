"""Images on disk: sample grids, single images, the progress frames, and reading an image file.
Pixels are in [-1, 1], the range of the generators' tanh; greyscale is drawn reversed (dark on
light), as the tutorials draw it.

Matplotlib, Pillow and NumPy only: report.py and sample.py draw without loading Keras.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

from ganlib.atomic_files import UserError, atomic_write, image_format  # noqa: E402

GRID_DPI = 100


def tile(images, n_cols, gap=0, background=1.0):
    """Images (N, H, W, C) as one picture, n_cols to a row, `gap` pixels of `background` between them."""
    n, height, width, channels = images.shape
    n_rows = -(-n // n_cols)
    picture = np.full((n_rows * (height + gap) - gap, n_cols * (width + gap) - gap, channels), background,
                      images.dtype)
    for k, image in enumerate(images):
        row, col = divmod(k, n_cols)
        picture[row * (height + gap):row * (height + gap) + height, col * (width + gap):col * (width + gap) + width] = image
    return picture


def save_grid(images, path, n_cols, col_titles=None, title=None):
    """Images in [-1, 1] as a grid: grey reversed (as the tutorials draw them) or colour; PNG or JPEG
    by the path's suffix. Drawn as one picture, so a 100x100 grid takes seconds, not minutes."""
    images = np.clip((np.asarray(images, "float32") + 1) / 2, 0, 1)
    grey = images.shape[-1] == 1
    n_rows, (height, width) = -(-len(images) // n_cols), images.shape[1:3]
    gap = max(1, height // 10)
    picture = tile(images, n_cols, gap, background=0.0 if grey else 1.0)
    cell = max(height / GRID_DPI, min(1.0, 28 / max(n_rows, n_cols)))  # inches a cell: 1 for small grids
    header = 0.3 * bool(col_titles) + 0.4 * bool(title)
    fig = plt.figure(figsize=(n_cols * cell, n_rows * cell + header), dpi=GRID_DPI)
    ax = fig.add_axes((0, 0, 1, n_rows * cell / (n_rows * cell + header)))
    ax.imshow(picture[..., 0] if grey else picture, cmap="gray_r" if grey else None, vmin=0, vmax=1,
              interpolation="nearest", aspect="auto")
    ax.axis("off")
    for k, label in enumerate(col_titles or []):
        ax.text(k * (width + gap) + width / 2, -gap, label, ha="center", va="bottom", fontsize=8)
    if title:
        fig.suptitle(title, y=1 - 0.1 / (n_rows * cell + header))
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=image_format(path)))
    plt.close(fig)


def save_image(image, path):
    """One image in [-1, 1] as a PNG (or JPEG, by the suffix) of its own size."""
    pixels = np.clip((np.asarray(image) + 1) * 127.5, 0, 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels)
    atomic_write(path, lambda tmp: picture.save(tmp, image_format(path).upper()))


def save_frame(images, n_cols, path):
    """Images in [-1, 1] tiled as one picture, grey reversed as the grids draw them."""
    pixels = np.clip((np.asarray(images, "float32") + 1) * 127.5, 0, 255).astype("uint8")
    n, height, width, channels = pixels.shape
    n_rows = -(-n // n_cols)
    tiled = np.full((n_rows * height, n_cols * width, channels), 255, "uint8")
    for k, image in enumerate(pixels):
        row, col = divmod(k, n_cols)
        tiled[row * height:(row + 1) * height, col * width:(col + 1) * width] = \
            255 - image if channels == 1 else image
    picture = Image.fromarray(tiled[..., 0] if channels == 1 else tiled)
    atomic_write(path, lambda tmp: picture.save(tmp, "PNG"))


def read_image(path, size):
    """An image file as RGB in [-1, 1], resized to size (width, height); one line if unreadable."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize(size, Image.BILINEAR), dtype="float32")
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"{path} is not a readable image ({type(error).__name__})")
    return pixels / 127.5 - 1


def image_size(path):
    """(width, height) of an image file, or (0, 0) when it is not a readable image."""
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return 0, 0
