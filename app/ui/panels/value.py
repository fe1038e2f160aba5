"""The value of the current item — a checkpoint's tensor (read and crc-checked in the
background), a frozen graph's Const, or an array computed here (a delta, a run's result)
— with its statistics and histogram, and the actions on it: copy its name, copy Python
that restores it, export it."""

from __future__ import annotations

import os
import re

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ...document import Document, Selection
from ...formats import dtypes
from ...document.snippets import restore_snippet
from ..description import Description
from ..dtype_kinds import NUMERIC_KINDS
from .lazy import LazySlot

PICK_HINT = "Select a variable, or an op in the graph, to see its value."


def _stats():
    """The statistics module, imported on first use: it needs numpy, which the window
    does not wait for."""
    from ...analysis import stats
    return stats


class ValuePanel(QWidget):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        # The value view (pyqtgraph) is built on first use, so the window and the tree
        # show without waiting for pyqtgraph's import.
        self.slot = LazySlot(self._build_view)
        lay.addWidget(self.slot, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.copy_name_button = QPushButton("Copy name")
        self.copy_code_button = QPushButton("Copy Python")
        self.copy_code_button.setToolTip("Copy a Python snippet that restores the model and fetches this tensor")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the value as .npy or .csv")
        self.pop_out_button = QPushButton("Open in window")
        self.pop_out_button.setToolTip("This value, its statistics and plots in a window of its own, "
                                       "to make room or keep it beside another")
        self.pop_out_button.setEnabled(False)
        self.pop_out_button.clicked.connect(self.pop_out)
        row.addWidget(self.pop_out_button)
        self.windows: list = []              # the values opened in windows of their own
        for b in (self.copy_name_button, self.copy_code_button, self.export_button):
            b.setEnabled(False)
            row.addWidget(b)
        self.copy_name_button.clicked.connect(self.copy_name)
        self.copy_code_button.clicked.connect(self.copy_snippet)
        self.export_button.clicked.connect(self.export_value)
        lay.addLayout(row)
        self._key: str | None = None          # the checkpoint tensor on screen, if any
        doc.opened.connect(self._opened)
        doc.selection_changed.connect(self._follow)
        doc.checkpoint_changed.connect(self._checkpoint_changed)
        doc.work_cancelled.connect(self._cancelled)
        doc.working.connect(lambda lane, text: lane == "value" and self.say(text))
        doc.scalars_changed.connect(lambda _d: self._show_logged())

    def _build_view(self):
        from ..values import ValueView
        view = ValueView()
        # The bins the user picks hold for the tensor on screen; a new one gets bins to suit it.
        view.binsChanged.connect(lambda b: self._key and self._compute_stats(self._key, b))
        view.statsRetry.connect(lambda: self._key and self._compute_stats(self._key, self.view.bins()))
        return view

    @property
    def view(self):
        """The value view, created when first needed."""
        return self.slot.content

    @property
    def key(self) -> str | None:
        return self._key

    def say(self, text: str) -> None:
        """A message instead of a value, without building the view for it."""
        self.pop_out_button.setEnabled(False)
        if self.slot.built:
            self.view.show_message(text)
        else:
            self.slot.hint(text)

    def _set_key(self, key: str | None) -> None:
        """The tensor about to be shown (None: a computed value), for the actions."""
        self._key = key
        self.pop_out_button.setEnabled(True)
        for b in (self.copy_name_button, self.copy_code_button, self.export_button):
            b.setEnabled(key is not None)

    # -- following the document --------------------------------------------------------

    def _opened(self, loaded) -> None:
        self._set_key(None)
        self.say(PICK_HINT if loaded.tensors else
                 "This graph has no saved values: select an op to see its details.")

    def _checkpoint_changed(self, loaded) -> None:
        key = self.doc.selection.key
        if key is None or key not in loaded.tensors:
            self._set_key(None)
            self.say(f"{key} is not in {loaded.checkpoint.name}." if key else PICK_HINT)

    def _follow(self, selection: Selection) -> None:
        loaded = self.doc.loaded
        if loaded is None:
            return
        if selection.value is not None:
            self.show_array(selection.title, selection.value)
        elif selection.key is not None and selection.key in loaded.tensors:
            self._show_tensor(selection.key)
        elif selection.op is not None and loaded.graph is not None and loaded.graph.has_op(selection.op):
            node = loaded.graph.node(selection.op)
            if node.op == "Const":
                self._show_const(selection.op)
            else:
                self._set_key(None)
                self.say(f"{selection.op} is a {node.op} op: it has no stored value."
                         + (" Its value lives in a checkpoint not opened here."
                            if node.op in ("VariableV2", "VarHandleOp") else ""))

    def _show_tensor(self, key: str) -> None:
        """Read a tensor (crc-checked) in a worker, show it, then compute its statistics."""
        loaded = self.doc.loaded
        info = loaded.tensors[key]
        self._set_key(key)
        title = info.display_name if info.display_name == key else f"{info.display_name}   ({key})"
        if info.problem:
            self.say(f"{key} cannot be read: {info.problem}")
            return
        reader = loaded.reader
        self.doc.cancel("stats")
        # The view keeps showing the previous tensor until this one is read: switching it
        # to a message and back costs a relayout each way.
        self.doc.status.emit(f"Reading {info.display_name}…")

        def shown(array):
            self.view.show_tensor(title, info.dtype_name, info.shape, array)
            self.doc.status.emit(self.doc.status_text())
            self._compute_stats(key)
            self._show_logged()

        def failed(message, _details):
            self.view.show_message(message)
            self.doc.status.emit(message)

        self.doc.submit("value", lambda job: reader.read(key), shown, failed)

    def _show_logged(self) -> None:
        """Beside the tensor's histogram, the one the run logged for it at this step (its
        event files are read in the background the first time)."""
        loaded, key = self.doc.loaded, self._key
        if loaded is None or key is None or key not in loaded.tensors or not self.slot.built:
            return
        if not loaded.event_files:
            return
        data = self.doc.scalars
        if data is None:
            if not self.doc.lanes["events"].busy:
                self.doc.read_scalars()    # scalars_changed brings us back here
            return
        from ...analysis.logged import find_logged
        info = loaded.tensors[key]
        step = loaded.checkpoint.step if loaded.checkpoint is not None else None
        self.view.show_logged(find_logged(data.histograms, [key, info.display_name], step))

    def _show_const(self, name: str) -> None:
        from ...formats import tensors
        node = self.doc.loaded.graph.node(name)
        self._set_key(None)
        self.doc.submit("value", lambda job: tensors.to_array(node.attr["value"].tensor),
                        lambda array: self.show_array(f"{name}   (Const)", array),
                        lambda m, _d: self.view.show_message(m))

    def show_array(self, title: str, array) -> None:
        """An array already in memory, with its statistics where it has any."""
        self._set_key(None)
        self.doc.cancel("stats")
        dtype = "string" if array.dtype == object else str(array.dtype)
        self.view.show_tensor(title, dtype, array.shape, array)
        # the view's own rule: a float8 or int4 array (numpy kind "V") has statistics too
        if Description.of(array, dtype).has_statistics:
            flat, bins = array.ravel(), _stats().suggested_bins(array.size)
            self.doc.submit("stats", lambda job: _stats().compute(lambda: iter([flat]), array.nbytes, bins,
                                                                  cancelled=job.cancelled),
                            self.view.show_stats)

    def _compute_stats(self, key: str, bins: int | None = None) -> None:
        loaded = self.doc.loaded
        info = loaded.tensors[key]
        if dtypes.kind(info.dtype) not in NUMERIC_KINDS:     # the rule the displays follow
            return
        reader = loaded.reader
        bins = bins or _stats().suggested_bins(info.size)

        def task(job):
            return _stats().compute(lambda: reader.chunks(key), info.nbytes, bins,
                                    progress=lambda f: job.progress(f, "statistics"),
                                    cancelled=job.cancelled)

        def failed(message, details):
            self.view.show_message(message)
            self.doc.notice.emit(message, details, True)

        self.doc.submit("stats", task, self.view.show_stats, failed)

    def pop_out(self):
        """The value shown, in a window of its own (it stays as it is when the selection
        moves on). Returns that window."""
        if not self.slot.built or self.view.snapshot() is None:
            return None
        from ..values import ValueView
        title, dtype_name, shape, array, stats = self.view.snapshot()
        window = ValueView()
        window.setWindowTitle(f"{title} — {self.doc.title}")
        window.show_tensor(title, dtype_name, shape, array)
        if stats is not None:
            window.show_stats(stats)
        window.resize(900, 640)
        window.show()
        # Closed ones are dropped here, on the next one (their arrays with them).
        self.windows = [w for w in self.windows if w.isVisible()] + [window]
        return window

    def _cancelled(self, lanes: list[str]) -> None:
        """Esc: each pane says what it shows now, never 'Computing…' for work that stopped."""
        if "value" in lanes:
            self.say("Reading the value was cancelled: select it again to read it.")
        elif "stats" in lanes and self.slot.built:
            self.view.stats_stopped("Statistics cancelled")

    # -- actions ------------------------------------------------------------------------

    def copy_name(self) -> None:
        if self._key:
            QGuiApplication.clipboard().setText(self._key)

    def snippet(self) -> str:
        return restore_snippet(self.doc.loaded, self._key)

    def copy_snippet(self) -> None:
        if self._key:
            QGuiApplication.clipboard().setText(self.snippet())
            self.doc.status.emit("Python snippet copied to the clipboard")

    def export_value(self) -> None:
        key = self._key
        if not key:
            return
        safe = re.sub(r"[^\w.-]+", "_", key)
        target, chosen = QFileDialog.getSaveFileName(
            self, "Export value", os.path.join(os.path.expanduser("~"), safe + ".npy"),
            "NumPy array (*.npy);;CSV (*.csv)")
        if not target:
            return
        reader = self.doc.loaded.reader
        csv = target.endswith(".csv") or chosen.startswith("CSV")

        def task(job):
            from ...analysis.export import write_csv, write_npy
            (write_csv if csv else write_npy)(target, reader.read(key))
            return target

        self.doc.submit("value", task, lambda t: self.doc.status.emit(f"Saved {t}"),
                        lambda m, d: self.doc.notice.emit(m, d, True))
