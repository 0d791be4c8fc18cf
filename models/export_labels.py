"""Class names by class id from a labels file (models/export.py --labels)."""

from __future__ import annotations

import json
import os

from export_common import UserError, _shorten


# ----------------------------------------------------------------------------- labels

def read_labels(path: str, num_classes: int, add_background: bool) -> tuple[list[str], str]:
    """Class names by class id (see the module doc for the background rules), and a note
    saying how the file was read."""
    if not os.path.isfile(path):
        raise UserError(f"labels file not found: {path}")
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"could not read the labels file {path} as UTF-8 text ({e})") from None
    try:
        data = json.loads(text)
        form = "JSON"
    except ValueError:
        data = [line.strip() for line in text.splitlines() if line.strip()]
        form = "text, one name per line"
    if isinstance(data, dict):
        names: dict[int, str] = {}
        for k, v in data.items():
            try:
                i = int(k)
            except ValueError:
                raise UserError(f"{path}: JSON object keys must be class ids, found {k!r}") from None
            if not isinstance(v, str):
                raise UserError(f"{path}: the name of class {i} is not a string ({v!r})")
            if i < 0 or i >= num_classes:
                raise UserError(f"{path}: class id {i} is outside 0..{num_classes - 1} "
                                f"(the checkpoint has {num_classes} class slots, background included)")
            names[i] = v
        if add_background and 0 in names:
            raise UserError(f"{path} names class 0 ({names[0]!r}) and --add-background was given: "
                            "drop one of them")
        labels = [names.get(i, "__background__" if i == 0 else "N/A") for i in range(num_classes)]
        filled = [i for i in range(num_classes) if i not in names]
        note = f"{form} object {{id: name}}"
        if filled:
            note += f"; ids not named filled in: {_shorten(f'{i}={labels[i]}' for i in filled)}"
        return labels, note
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        raise UserError(f"{path}: expected one name per line, a JSON list of names, or a JSON object "
                        "{\"id\": \"name\"}")
    note = f"{form} ({len(data)} names)"
    if add_background:
        if len(data) != num_classes - 1:
            raise UserError(f"--add-background: {path} has {len(data)} names, but the model has "
                            f"{num_classes} class slots, so it needs {num_classes - 1} names plus the "
                            f"background (or {num_classes} names without --add-background)")
        return ["__background__"] + data, note + ', "__background__" inserted as class 0 (--add-background)'
    if len(data) == num_classes - 1:
        raise UserError(f"{path} has {len(data)} names for {num_classes} class slots: if the file leaves "
                        "out the background class 0, pass --add-background; otherwise the class count "
                        "is wrong")
    if len(data) != num_classes:
        raise UserError(f"{path} has {len(data)} names but the model has {num_classes} class slots "
                        f"(background included): they must agree")
    return list(data), note + "; entry i names class id i, entry 0 is the background slot"
