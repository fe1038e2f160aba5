"""The Compare tab: any two checkpoints of the run (or one of another model) ranked
variable by variable; choosing a row puts its delta B − A in the value panel. The table
and its choices are `ComparePanel`; this tab does the reading, through the document."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QVBoxLayout, QWidget

from ...document import Document
from ..compare_panel import ComparePanel

ORIGIN = "compare"
OTHER = "other: "


def side_labels(a, b) -> tuple[str, str]:
    """Names for checkpoints A and B that tell them apart: the checkpoint's name (and step),
    with its folder where the names alone are the same (two downloads of `vgg_16.ckpt`)."""
    def name(c, with_folder):
        text = c.name or os.path.basename(c.prefix) or c.prefix
        if c.step is not None and str(c.step) not in text:
            text += f" (step {c.step})"
        if with_folder:
            text = f"{os.path.basename(os.path.dirname(c.prefix)) or os.path.dirname(c.prefix)}/{text}"
        return text
    same = name(a, False) == name(b, False)
    return name(a, same), name(b, same)


class CompareTab(QWidget):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._panel: ComparePanel | None = None
        self.choices: list = []           # [(label, Checkpoint)] offered as A and B
        self.picks = (0, 0)
        self.readers = None               # (reader A, reader B) of the table shown
        doc.opened.connect(lambda _l: self._fill_choices())
        doc.checkpoints_changed.connect(lambda _c: self._fill_choices(keep=True))
        doc.work_cancelled.connect(
            lambda lanes: "compare" in lanes and self._panel is not None
            and self._panel.set_busy("Comparing was cancelled: press Compare to run it again."))

    @property
    def panel(self) -> ComparePanel:
        """The panel, built when first shown (its modules load only if used)."""
        if self._panel is None:
            self._panel = ComparePanel()
            self._panel.compare_requested.connect(self.compare)
            self._panel.other_model_requested.connect(self._ask_other)
            self._panel.row_chosen.connect(self._show_row)
            self._layout.addWidget(self._panel)
            if self.choices:
                self._panel.set_choices([n for n, _c in self.choices], *self.picks)
        return self._panel

    def _fill_choices(self, pick_b: int | None = None, keep: bool = False) -> None:
        loaded = self.doc.loaded
        own = [(c.name if c.step is None else f"{c.name}  (step {c.step})", c)
               for c in loaded.model.checkpoints if c.on_disk]
        others = [ch for ch in self.choices if ch[0].startswith(OTHER)]
        previous = [c.prefix for _n, c in self.choices]
        self.choices = own + others
        if not self.choices:
            return
        latest = next((i for i, (_n, c) in enumerate(own) if c.latest), len(own) - 1)
        follow = False
        if keep and self._panel is not None:
            # The same A and B as before, where they still exist; with "B follows newest",
            # B is the newest checkpoint of the run (compared again when it is a new one).
            a, b = (previous[i] if 0 <= i < len(previous) else None
                    for i in (self._panel.a.currentIndex(), self._panel.b.currentIndex()))
            prefixes = [c.prefix for _n, c in self.choices]
            newest = max(range(len(own)), key=lambda i: (own[i][1].step is not None, own[i][1].step or 0),
                         default=None)
            follow = self._panel.follow_b.isChecked() and newest is not None
            pick_b = newest if follow else (prefixes.index(b) if b in prefixes else latest)
            follow = follow and prefixes[pick_b] != b
            self.picks = (prefixes.index(a) if a in prefixes else 0, pick_b)
        else:
            self.picks = (0, latest if pick_b is None else pick_b)
        if self._panel is not None:
            self._panel.set_choices([n for n, _c in self.choices], *self.picks)
            if follow and self.readers is not None:
                self.compare(*self.picks)

    def compare(self, a: int, b: int) -> None:
        if not (0 <= a < len(self.choices) and 0 <= b < len(self.choices)):
            return
        ca, cb = self.choices[a][1], self.choices[b][1]
        from ...analysis import compare as compare_mod
        from ...formats.model import open_checkpoint
        cache = self.doc.result_cache()

        from ...analysis.params import optimizer_keys
        own = self.doc.loaded.params.optimizer_keys      # from this run's graph, where it has one
        label_a, label_b = side_labels(ca, cb)

        def task(job):
            ra, rb = open_checkpoint(ca), open_checkpoint(cb)
            rows = compare_mod.diff(ra, rb, progress=lambda f: job.progress(f, "comparing"),
                                    cancelled=job.cancelled, cache=cache)
            return rows, ra, rb, own | optimizer_keys(ra.tensors) | optimizer_keys(rb.tensors)

        def done(result):
            rows, ra, rb, optimizer = result
            self.readers = (ra, rb)
            self.panel.set_rows(rows, label_a, label_b, optimizer)
            self.doc.status.emit(f"Compared {label_b} with {label_a}: {len(rows)} variables")

        def failed(message, details):
            self.panel.set_busy(message)
            self.doc.notice.emit(message, details, True)

        self.panel.set_busy(f"Comparing {label_b} with {label_a}…")
        self.doc.submit("compare", task, done, failed)

    def _ask_other(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Compare with another model",
                                                os.path.dirname(self.doc.loaded.model.folder))
        if path:
            self.compare_with(path)

    def compare_with(self, path: str) -> None:
        """Offer another model's checkpoint (its latest, or the one `path` names) as B."""
        from ...formats.model import open_path

        def done(model):
            if model.selected is None:
                self.doc.notice.emit(f"{path}: no checkpoint to compare with", "", False)
                return
            label = f"{OTHER}{model.title} / {model.selected.name}"
            self.choices = [ch for ch in self.choices if ch[0] != label]
            self.choices.append((label, model.selected))
            self._fill_choices(pick_b=len(self.choices) - 1)

        self.doc.submit("compare", lambda job: open_path(path), done,
                        lambda m, d: self.doc.notice.emit(m, d, True))

    def _show_row(self, row) -> None:
        """The delta B − A of one variable (or the side that has it) as the current item."""
        if self.readers is None:
            return
        ra, rb = self.readers
        from ...analysis import compare as compare_mod
        if row.compared and row.rel_l2 is not None:
            title = f"Δ {row.name}   (B − A)"

            def task(job):
                return compare_mod.delta(ra, rb, row.key_a, row.key_b)
        elif row.key_b or row.key_a:
            reader, key = (rb, row.key_b) if row.key_b else (ra, row.key_a)
            title = f"{row.name}   ({'B' if row.key_b else 'A'}, {row.status})"

            def task(job):
                return reader.read(key)
        else:
            return
        self.doc.cancel("stats")
        # The variable itself, where this run has it: Across the run follows it.
        key = next((k for k in (row.key_b, row.key_a) if k and k in self.doc.loaded.tensors), None)
        self.doc.submit("value", task, lambda array: self.doc.select_value(title, array, ORIGIN, key),
                        lambda m, d: self.doc.notice.emit(m, d, True), what=f"Computing {title.strip()}…")
