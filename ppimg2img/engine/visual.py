"""Visual results: image grids and the HTML pages of a run folder."""
import html
import os
import time

import numpy as np

from ..utils.image_io import save_image, tensor_to_image


def save_grid(rows, path):
    """Save rows of (label, NCHW tensor) as one PNG (first image of each batch), labels burnt in."""
    import cv2
    tiles = []
    for row in rows:
        imgs = []
        for label, t in row:
            img = np.ascontiguousarray(tensor_to_image(t[0]))
            scale = max(1, 128 // img.shape[0])
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else img
            img = cv2.copyMakeBorder(img, 14, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            cv2.putText(img, label, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
            imgs.append(img)
        tiles.append(imgs)
    h = max(i.shape[0] for r in tiles for i in r)
    w = max(i.shape[1] for r in tiles for i in r)
    n = max(len(r) for r in tiles)
    canvas = np.full((h * len(tiles), w * n, 3), 255, np.uint8)
    for y, r in enumerate(tiles):
        for x, img in enumerate(r):
            canvas[y * h:y * h + img.shape[0], x * w:x * w + img.shape[1]] = img
    save_image(path, canvas)
    return path


_STYLE = ("body{font-family:sans-serif;margin:1.5em}img{image-rendering:pixelated;max-width:100%}"
          "table{border-collapse:collapse}td,th{padding:4px;text-align:center;border:1px solid #ddd}"
          ".m{font-family:monospace}")


def _page(title, body, refresh=None):
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{meta}<title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def _write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _notes(notes, links):
    """A list of plain-text notes (escaped: they hold paths and error messages) and links."""
    items = [html.escape(n) for n in notes]
    items += [f"<a href='{html.escape(href)}'>{html.escape(label)}</a>" for href, label in links]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else ""


def write_training_page(run_dir, title, notes=(), links=()):
    """index.html in the run folder: notes and links (evaluations, logs), then every saved
    visuals grid, newest first, like the original project's training web page."""
    img_dir = os.path.join(run_dir, "web", "images")
    grids = sorted(os.listdir(img_dir), reverse=True) if os.path.isdir(img_dir) else []
    parts = [_notes(notes, links)]
    for name in grids:
        label = os.path.splitext(name)[0].replace("_", " ")
        parts.append(f"<h3>{html.escape(label)}</h3><img src='web/images/{html.escape(name)}'>")
    if not grids:
        parts.append("<p>No visuals saved yet.</p>")
    parts.append(f"<p class='m'>updated {time.strftime('%Y-%m-%d %H:%M:%S')}</p>")
    path = os.path.join(run_dir, "index.html")
    _write(path, _page(title, "".join(parts), refresh=60))
    return path


def write_results_page(page_dir, title, columns, rows, notes=(), links=()):
    """An HTML table: one row per image, ``columns`` headers, cells are image paths relative to
    ``page_dir`` (or text); plain-text ``notes`` and ``links`` above it."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["name"] + list(columns))
    body = []
    for name, cells in rows:
        tds = []
        for cell in cells:
            if cell is None:
                tds.append("<td>-</td>")
            elif cell.lower().endswith((".png", ".jpg")):
                tds.append(f"<td><img src='{html.escape(cell)}' width='160'></td>")
            else:
                tds.append(f"<td class='m'>{html.escape(cell)}</td>")
        body.append(f"<tr><td class='m'>{html.escape(name)}</td>{''.join(tds)}</tr>")
    table = f"<table><tr>{head}</tr>{''.join(body)}</table>" if rows else ""
    path = os.path.join(page_dir, "index.html")
    _write(path, _page(title, _notes(notes, links) + table))
    return path
