"""A run at a glance: report.html and progress.gif in its output folder, built only from the files
the run leaves there (run.json, losses.csv, metrics.csv, the grids, progress/), so that
`python scripts/report.py OUT_DIR` rebuilds them for any run, finished, training or older.

The page needs no server and nothing from the network: the curves are inline SVG, the images
relative links to the PNGs beside it, and a few lines of script only turn the grid slider. Every
string that reaches the page, a file name or a setting as much as a message, goes through `esc`.
"""
import html
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ganlib import readback
from ganlib.atomic_files import atomic_write, write_text
from ganlib.kinds import kind_of_run, primary_figures
from ganlib.saved import RUN_INFO

PROGRESS_DIR = "progress"  # one frame per summary: the same inputs drawn each time
FRAME_MS = 600
SMOOTHING = 0.95  # the loss curves' exponential smoothing; the raw values are drawn faint
MAX_POINTS = 800  # points per curve: a long run's page stays small
MARKED_POINTS = 40  # curves with this many points or fewer show each one
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


def esc(value):
    """Any value as HTML text or attribute content: the one way a string reaches the page."""
    return html.escape(str(value), quote=True)


def script_json(value):
    """A value as JSON inside a <script>: no "</script>" or "<!--" can close or bend it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def read_run_info(out_dir):
    """run.json's fields, checked (readback.py); {} when there is none."""
    return readback.run_info(Path(out_dir) / RUN_INFO)


def update_run_info(out_dir, **fields):
    write_text(Path(out_dir) / RUN_INFO, json.dumps(dict(read_run_info(out_dir), **fields), indent=1))


def write_progress_gif(out_dir):
    """progress.gif from the progress frames, or from the grids for a run older than them."""
    out_dir = Path(out_dir)
    frames = sorted((out_dir / PROGRESS_DIR).glob("e*.png")) or sorted(out_dir.glob("generated_plot_e*.png"))
    if not frames:
        return None
    pictures = []
    for frame in frames:
        with Image.open(frame) as picture:
            pictures.append(picture.convert("RGB").convert("P", palette=Image.ADAPTIVE))
    path = out_dir / "progress.gif"
    atomic_write(path, lambda tmp: pictures[0].save(tmp, "GIF", save_all=True, append_images=pictures[1:],
                                                    duration=FRAME_MS, loop=0))
    return path


def _smoothed(values):
    out, level = [], values[0]
    for value in values:
        level = SMOOTHING * level + (1 - SMOOTHING) * value
        out.append(level)
    return out


def _thinned(xs, *columns):
    step = max(1, len(xs) // MAX_POINTS)
    return [list(c[::step]) for c in (xs, *columns)]


def svg_chart(series, x_label, y_label, marks=(), lines=(), y_range=None, width=640, height=260):
    """Line charts as inline SVG. series: (label, xs, ys, colour, opacity); marks: (x, y, text);
    lines: horizontal reference lines (y, text); y_range: (low, high) to draw on, else the data's."""
    points = [(x, y) for _, xs, ys, *_ in series for x, y in zip(xs, ys) if np.isfinite(y)]
    if not points:
        return "<p>nothing to draw yet</p>"
    x_low, x_high = min(p[0] for p in points), max(p[0] for p in points)
    if x_high == x_low:  # one point: in the middle of the chart, not on its axis labels
        x_low, x_high = x_low - 1, x_high + 1
    y_low, y_high = y_range or (min(p[1] for p in points), max(p[1] for p in points))
    y_high = y_high + (y_high == y_low)
    left, right, top, bottom = 56, 12, 28, 36  # the legend goes in the top margin

    def at(x, y):
        return (left + (x - x_low) / (x_high - x_low) * (width - left - right),
                height - bottom - (y - y_low) / (y_high - y_low) * (height - top - bottom))

    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
             'fill="none" stroke="#ccc"/>']
    for value, (x, y) in ((y_low, at(x_low, y_low)), (y_high, at(x_low, y_high))):
        parts.append(f'<text x="{x - 4:.0f}" y="{y + 4:.0f}" text-anchor="end">{value:.3g}</text>')
    for value in (x_low, x_high) if len({p[0] for p in points}) > 1 else (points[0][0],):
        x, y = at(value, y_low)
        parts.append(f'<text x="{x:.0f}" y="{y + 16:.0f}" text-anchor="middle">{value:.4g}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle">{esc(x_label)}</text>')
    parts.append(f'<text x="12" y="{height / 2:.0f}" transform="rotate(-90 12 {height / 2:.0f})" '
                 f'text-anchor="middle">{esc(y_label)}</text>')
    for y, text in lines:
        x0, y0 = at(x_low, y)
        x1, _ = at(x_high, y)
        parts.append(f'<line class="reference" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y0:.1f}" '
                     f'stroke="#888" stroke-dasharray="4 3"/><text x="{x1 - 4:.1f}" y="{y0 - 4:.1f}" '
                     f'text-anchor="end" fill="#555">{esc(text)}</text>')
    legend_x = left
    for label, xs, ys, colour, opacity in series:
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in (at(x, y) for x, y in zip(xs, ys) if np.isfinite(y)))
        parts.append(f'<polyline class="curve" fill="none" stroke="{colour}" stroke-opacity="{opacity}" '
                     f'stroke-width="1.5" points="{coords}"/>')
        if opacity == 1 and len(xs) <= MARKED_POINTS:  # a short curve's points, visible even alone
            parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{colour}"/>'
                      for a, b in (at(x, y) for x, y in zip(xs, ys) if np.isfinite(y))]
        if opacity == 1 and label:
            parts.append(f'<text x="{legend_x}" y="{top - 10}" fill="{colour}">&#9632; {esc(label)}</text>')
            legend_x += 16 + 6.5 * len(label)
    for x, y, text in marks:
        cx, cy = at(x, y)
        anchor = "end" if cx > width - 100 else "start" if cx < left + 60 else "middle"
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="none" stroke="#000"/>'
                     f'<text x="{cx:.1f}" y="{cy + 18:.1f}" text-anchor="{anchor}">{esc(text)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def loss_chart(rows):
    if not rows:
        return "<p>no losses yet</p>"
    names = [k for k in rows[0] if k not in ("epoch", "step")]
    xs = list(range(1, len(rows) + 1))
    series = []
    for colour, name in zip(COLOURS * 3, names):
        values = [float(r[name]) for r in rows]
        thin_xs, raw, smooth = _thinned(xs, values, _smoothed(values))
        series += [("", thin_xs, raw, colour, 0.2), (name, thin_xs, smooth, colour, 1)]
    return svg_chart(series, "step", "loss (smoothed; raw faint)")


def primary_figure(columns, kind=None):
    """The figure generator_best.h5 is chosen by (kinds.py): the run's kind's, else (a run older
    than its recorded kind) the first kind's figure among the columns, FID last; and whether lower
    is better."""
    if kind is not None and kind.primary in columns:
        return kind.primary, kind.lower_is_better
    lower_is_better = primary_figures()
    primary = next((name for name in lower_is_better if name in columns and name != "fid"), "fid")
    return primary, lower_is_better[primary]


def quality_section(rows, best_name, info):
    if not rows:
        return "<p>Not measured (<code>--eval-samples 0</code>) or no summary yet.</p>"
    kind = kind_of_run(info)
    primary, lower_is_better = primary_figure(rows[0], kind)
    chosen_by, chosen_lower = kind.selection() if kind is not None and kind.selection()[0] in rows[0] else \
        (primary, lower_is_better)
    epochs = [float(r["epoch"]) for r in rows]
    values = [float(r[primary]) for r in rows]
    # a row written before its run measured the choosing figure (a resumed older run) loses, as in QualityLog
    chosen = [float(r[chosen_by]) if r.get(chosen_by) else float("inf" if chosen_lower else "-inf") for r in rows]
    best = (min if chosen_lower else max)(range(len(rows)), key=lambda k: chosen[k])
    series = [(f"{primary} (averaged generator)" if f"raw_{primary}" in rows[0] else primary,
               epochs, values, COLOURS[0], 1)]
    if f"raw_{primary}" in rows[0]:
        series.append((f"{primary} (raw generator)", epochs, [float(r[f"raw_{primary}"]) for r in rows], COLOURS[1], 1))
    references = kind.reference_lines(info) if kind is not None else []
    share = kind is not None and kind.share
    chart = svg_chart(series, "epoch", primary.replace("_", " "), lines=references,
                      marks=[(epochs[best], values[best], f"best: epoch {epochs[best]:.0f}")],
                      y_range=(0, 1) if share else (0, max(v for _, _, ys, *_ in series for v in ys)))
    said = "".join(f"<li>{esc(text)}</li>" for _, text in references)
    header = "".join(f"<th>{esc(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{esc(number(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    chosen_words = "" if chosen_by == primary else f", chosen by {esc(chosen_by)} {chosen[best]:.4g}"
    return (f"{chart}\n{f'<ul>{said}</ul>' if said else ''}{axes_chart(rows, epochs)}"
            f"<p>Best: epoch {epochs[best]:.0f}, {esc(primary)} {values[best]:.4g}{chosen_words}"
            f"{f', saved as <code>{esc(best_name)}</code>' if best_name else ''}.</p>\n"
            f"<table><tr>{header}</tr>{body}</table>\n"
            f"<p><small>{SCALES}</small></p>")


SCALES = ("FID, KID and the per-class figures are measured in the judge's 128-unit features, so they compare "
          "runs of these scripts, not papers' Inception figures; KID is the unbiased squared MMD there, not "
          "multiplied by 1,000, and both are near 0 for real images. real_...: the same figure for as many real "
          "training images, the ceiling.")


def number(text):
    """A CSV cell as shown: 4 significant digits for a number, the text itself otherwise."""
    try:
        return f"{float(text):.4g}"
    except (TypeError, ValueError):
        return text


def axes_chart(rows, epochs):
    """Precision (fidelity) and recall (coverage) by epoch, each beside its ceiling: the same figure
    for as many real training images."""
    if not any(r.get("recall") for r in rows):
        return ""
    series = [(name, epochs, [float(r.get(name) or "nan") for r in rows], colour, 1)  # older rows: not drawn
              for name, colour in (("precision", COLOURS[2]), ("recall", COLOURS[3]))]
    lines = [(float(rows[-1][f"real_{name}"]), f"{name} of real training images: {float(rows[-1][f'real_{name}']):.2f}")
             for name in ("precision", "recall") if rows[-1].get(f"real_{name}")]
    chart = svg_chart(series, "epoch", "precision and recall", lines=lines, y_range=(0, 1))
    return (f"<p>Both axes, in the judge's features (k=3; per class, averaged, where the generator "
            f"takes classes): precision, how many generated images look like real ones; recall, how "
            f"much of the real images the generated ones cover.</p>{chart}")


def state_line(info, out_dir):
    state = info.get("state")
    if state is None:
        return "unknown (a run older than its report)" + (": finished" if (out_dir / "generator.h5").exists() else "")
    if state == "interrupted":
        return f"interrupted; go on with <code>{esc(info.get('resume_command', ''))}</code>"
    if state in ("diverged", "failed"):
        return f"{esc(state)}: {esc(info.get('message', ''))}"
    if state == "running":
        return f"running (last written {esc(info.get('updated', ''))})"
    return esc(state)


def settings_of(info):
    """{flag: value}: a run's settings once each, under the flags a user types; a run older than
    that recorded its constants and their lower-case copies, shown once, by constant."""
    if "settings" in info:
        return info["settings"]
    constants = info.get("constants", {})
    return dict(constants, **{k: v for k, v in info.get("hyperparameters", {}).items()
                              if k.upper() not in constants and k not in ("out", "resume", "fresh")})


def write_report(out_dir):
    """Rewrite report.html in `out_dir` from what is there now."""
    out_dir = Path(out_dir)
    info = read_run_info(out_dir)
    losses, metrics = readback.losses_rows(out_dir / "losses.csv"), readback.metrics_rows(out_dir / "metrics.csv")
    grids = sorted(p.name for p in out_dir.glob("generated_plot_e*.png"))
    plots = sorted(p.name for p in out_dir.glob("*_plot.png") if not p.name.startswith("generated_plot"))
    seconds = float(info.get("seconds", 0))
    rate = f"{len(losses) / seconds:.2f} steps/s" if seconds and losses else None
    steps = f"{len(losses):,}" + (f" of {int(info['steps_total']):,}" if info.get("steps_total") else "")
    facts = [("script", info.get("script", out_dir.name)), ("state", None), ("steps", steps),
             ("command", info.get("command")), ("started", info.get("started")),
             ("time trained", f"{seconds / 60:.1f} min" if seconds else None), ("speed", rate),
             ("machine", info.get("machine")), ("backend", info.get("backend")), ("measured by", info.get("judge"))]
    rows = "".join(f"<tr><th>{esc(name)}</th><td>{state_line(info, out_dir) if name == 'state' else esc(v)}"
                   "</td></tr>" for name, v in facts if v is not None or name == "state")
    settings = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in sorted(settings_of(info).items()))
    slider = ""
    if grids:
        slider = (f'<p><input id="epoch" type="range" min="0" max="{len(grids) - 1}" value="{len(grids) - 1}"> '
                  f'<span id="grid-name">{esc(grids[-1])}</span></p>\n'
                  f'<img id="grid" class="sample" src="{esc(grids[-1])}" alt="latest sample grid">\n'
                  f"<script>const grids = {script_json(grids)};\n"
                  "document.getElementById('epoch').addEventListener('input', e => {\n"
                  "  const name = grids[e.target.value];\n"
                  "  document.getElementById('grid').src = name;\n"
                  "  document.getElementById('grid-name').textContent = name;\n"
                  "});</script>")
    progress = "<p>no summary yet</p>"
    if (out_dir / "progress.gif").exists():
        kind = kind_of_run(info)
        caption = kind.progress_caption if kind is not None and (out_dir / PROGRESS_DIR).is_dir() else \
            "The sample grids in turn."
        progress = f'<p>{esc(caption)}</p><img class="sample" src="progress.gif" alt="progress animation">'
    best_name = "generator_best.h5" if (out_dir / "generator_best.h5").exists() else None
    architecture = "".join(f'<figure><img src="{esc(name)}" alt="{esc(name)}"><figcaption>{esc(name)}</figcaption>'
                           "</figure>" for name in plots) or \
        "<p>not drawn: Graphviz is not installed (<code>apt-get install graphviz</code>, <code>brew install graphviz</code>)</p>"
    title = esc(info.get("script", out_dir.name))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} report</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }} th, td {{ border: 1px solid #ddd; padding: 2px 8px;
text-align: left; font-size: 0.9em; }} img {{ max-width: 100%; }} svg text {{ font-size: 11px; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }} figure img {{ max-height: 500px; }}
img.sample {{ max-height: 560px; }}
</style></head><body>
<h1>{title}</h1>
<table>{rows}</table>
<h2>Settings</h2><table>{settings or "<tr><td>not recorded</td></tr>"}</table>
<h2>Samples by epoch</h2>{slider or "<p>no grid yet</p>"}
<h2>Progress</h2>{progress}
<h2>Losses</h2>{loss_chart(losses)}
<h2>Quality</h2>{quality_section(metrics, best_name, info)}
<h2>Architecture</h2>{architecture}
<p><small>Written {time.strftime("%Y-%m-%d %H:%M:%S")} by scripts/ganlib/report_page.py; rebuild with
<code>python scripts/report.py {esc(out_dir)}</code>.</small></p>
</body></html>
"""
    write_text(out_dir / "report.html", page)
    return out_dir / "report.html"
