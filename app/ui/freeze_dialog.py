"""The "Freeze…" dialog: a model's checkpoint (or SavedModel signature) and chosen
outputs → one frozen GraphDef, written where the user says and opened in a tab of its own.

What to check and how the file is put into place are app.runner.service's (`plan_freeze`,
`freeze`), as on the command line; TensorFlow runs in the runner's worker process, which
this dialog starts when it opens (TensorFlow's import is under way while the user picks a
destination) and ends when it closes. Cancel ends the worker; nothing is left behind.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QMessageBox, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from ..runner import service
from ..runner.session import RunError
from .widgets.message import confirm_unsafe_ops
from .workers import Lane

# Status texts of a freeze, in order, and where the bar stands when each arrives.
_STAGES = (("importing TensorFlow", 0.1), ("importing the graph", 0.3),
           ("loading the SavedModel", 0.3), ("restoring", 0.5), ("folding", 0.7),
           ("writing", 0.85), ("checking", 0.95))


@dataclass
class _Outcome:
    result: service.FreezeResult | None = None
    error: RunError | None = None


def default_destination(model_folder: str, title: str, start_dir: str | None = None) -> str:
    """A file name beside the model's folder (never inside it: a model folder is only read)."""
    base = start_dir or os.path.dirname(os.path.normpath(model_folder)) or os.path.expanduser("~")
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in title) or "model"
    return os.path.join(base, f"{stem}-frozen.pb")


class FreezeDialog(QDialog):
    """Freeze `model_path` (its checkpoint `checkpoint`, a prefix or None for the latest)
    for the outputs listed. `frozen(path)` is emitted with the file written."""

    frozen = Signal(str)

    def __init__(self, model_path: str, *, title: str, folder: str, checkpoint: str | None = None,
                 checkpoint_label: str = "", outputs: list[str] = (),
                 signatures: list[str] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Freeze {title}")
        self.model_path = model_path
        self.checkpoint = checkpoint
        self.result: service.FreezeResult | None = None
        self._client = None
        self._stop = threading.Event()
        self._running = False
        self.lane = Lane("freeze", self)
        self.lane.progress.connect(self._progress)

        lay = QVBoxLayout(self)
        intro = QLabel("Fold the variables into constants and keep only what the outputs need: "
                       "one GraphDef to serve or to import with <i>tf.import_graph_def</i>.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
        source = QLabel(f"{title}" + (f"  —  {checkpoint_label}" if checkpoint_label else ""))
        source.setToolTip(model_path)
        source.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow("Model:", source)
        self.signature = QComboBox()
        for key in signatures:
            self.signature.addItem(key)
        if service.DEFAULT_SIGNATURE in signatures:
            self.signature.setCurrentText(service.DEFAULT_SIGNATURE)
        self.signature.setToolTip("The signature whose function is frozen; outputs are its "
                                  "output keys")
        if signatures:
            form.addRow("Signature:", self.signature)
        else:
            self.signature.hide()

        outs = QWidget()
        ol = QVBoxLayout(outs)
        ol.setContentsMargins(0, 0, 0, 0)
        self.outputs = QListWidget()
        self.outputs.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.outputs.setMaximumHeight(120)
        for name in outputs:
            self.outputs.addItem(name)
        ol.addWidget(self.outputs)
        add_row = QHBoxLayout()
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("op or tensor name" + (", or an output key"
                                                                   if signatures else ""))
        self.output_edit.returnPressed.connect(self._add_typed)
        self.btn_add = QPushButton("Add")
        self.btn_add.clicked.connect(self._add_typed)
        self.btn_remove = QPushButton("Remove")
        self.btn_remove.clicked.connect(self._remove_selected)
        add_row.addWidget(self.output_edit, 1)
        add_row.addWidget(self.btn_add)
        add_row.addWidget(self.btn_remove)
        ol.addLayout(add_row)
        if signatures:
            hint = QLabel("None listed: every output of the signature.")
            hint.setStyleSheet("color: palette(mid);")
            ol.addWidget(hint)
        form.addRow("Outputs:", outs)

        dest_row = QHBoxLayout()
        self.destination = QLineEdit(default_destination(folder, title))
        self.btn_browse = QPushButton("Browse…")
        self.btn_browse.clicked.connect(self._browse)
        dest_row.addWidget(self.destination, 1)
        dest_row.addWidget(self.btn_browse)
        form.addRow("Save as:", dest_row)
        lay.addLayout(form)

        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        lay.addStretch(1)

        self.buttons = QDialogButtonBox()
        self.btn_freeze = self.buttons.addButton("Freeze", QDialogButtonBox.AcceptRole)
        self.btn_cancel = self.buttons.addButton(QDialogButtonBox.Cancel)
        self.btn_freeze.clicked.connect(self.start)
        self.btn_cancel.setText("Close")
        self.btn_cancel.clicked.connect(self._cancel_or_close)
        lay.addWidget(self.buttons)
        self.resize(620, 0)

    # -- the form ------------------------------------------------------------------------

    @property
    def output_names(self) -> list[str]:
        return [self.outputs.item(i).text() for i in range(self.outputs.count())]

    def add_output(self, name: str) -> bool:
        name = name.strip()
        if not name or name in self.output_names:
            return False
        self.outputs.addItem(name)
        return True

    def _add_typed(self) -> None:
        if self.add_output(self.output_edit.text()):
            self.output_edit.clear()

    def _remove_selected(self) -> None:
        for item in self.outputs.selectedItems():
            self.outputs.takeItem(self.outputs.row(item))

    def _browse(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "Save the frozen graph as", self.destination.text(),
            "Frozen graph (*.pb);;Text form (*.pbtxt);;All files (*)")
        if path:
            self.destination.setText(path)

    def warm_up(self) -> None:
        """Start the worker now: it imports TensorFlow while the user fills the form."""
        self.client.start()

    @property
    def client(self):
        if self._client is None:
            from ..runner.worker import RunnerClient
            self._client = RunnerClient()
        return self._client

    # -- freezing ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def start(self, allow_unsafe: bool = False) -> bool:
        """Check the form (pure, at once) and start freezing. Returns whether it started."""
        if self._running:
            return False
        signature = self.signature.currentText() if self.signature.count() else None
        try:
            request = service.plan_freeze(self.model_path, self.output_names,
                                          self.destination.text(), checkpoint=self.checkpoint,
                                          signature=signature, allow_unsafe=allow_unsafe)
        except RunError as e:
            if e.kind == "unsafe" and not allow_unsafe and self._confirm_unsafe(e.ops):
                return self.start(allow_unsafe=True)
            self._show(str(e), error=True)
            return False
        except Exception as e:  # FormatError: the model cannot be read any more
            self._show(str(e), error=True)
            return False
        dest = request.destination
        if os.path.exists(dest) and QMessageBox.question(
                self, "Replace the file?", f"{dest} exists. Replace it with the frozen graph?",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No) != QMessageBox.Yes:
            return False
        client, stop = self.client, self._stop
        stop.clear()

        def task(job):
            def status(text: str) -> None:
                fraction = next((f for prefix, f in _STAGES if text.startswith(prefix)), None)
                job.progress(fraction if fraction is not None else -1.0, text)
            def runner(req):
                try:
                    return client.freeze(req, on_status=status)
                finally:  # give the restored session's memory back before the written
                    client.close()  # graph is read back; another freeze starts a new worker
            try:
                return _Outcome(service.freeze(request, runner, on_status=status,
                                               should_stop=stop.is_set))
            except RunError as e:
                return _Outcome(error=e)

        self._running = True
        self._set_busy(True)
        self._show("starting…")
        self.lane.submit(task, self._finished, self._failed)
        return True

    def _confirm_unsafe(self, ops: list[str]) -> bool:
        return confirm_unsafe_ops(
            self, "Freeze a graph with ops that reach outside the session?",
            "Freezing restores this model and keeps these ops, which touch files, processes "
            "or the network:", ops, "Go on only if you trust this model.")

    def cancel(self) -> None:
        """Stop a freeze in progress: the worker is ended, the partial file removed."""
        if not self._running:
            return
        self._stop.set()
        if self._client is not None:
            self._client.cancel()
        self._show("cancelling…")

    def _cancel_or_close(self) -> None:
        if self._running:
            self.cancel()
        else:
            self.reject()

    def _progress(self, fraction: float, text: str) -> None:
        if fraction >= 0:
            self.bar.setValue(int(100 * fraction))
        if text:
            self._show(f"{text}…")

    def _finished(self, outcome: _Outcome) -> None:
        self._running = False
        self._set_busy(False)
        if outcome.error is not None:
            e = outcome.error
            self._show("Cancelled; nothing was written." if e.kind == "cancelled" else str(e),
                       error=e.kind != "cancelled")
            return
        self.result = r = outcome.result
        self._show(f"Wrote {os.path.basename(r.destination)}: {r.nodes} nodes, {r.folded} "
                   f"variable{'s' if r.folded != 1 else ''} folded into constants.")
        self.frozen.emit(r.destination)
        self.accept()

    def _failed(self, message: str, _details: str) -> None:
        self._running = False
        self._set_busy(False)
        self._show(message, error=True)

    def _set_busy(self, busy: bool) -> None:
        self.bar.setVisible(busy)
        self.bar.setValue(0)
        for w in (self.btn_freeze, self.outputs, self.output_edit, self.btn_add,
                  self.btn_remove, self.destination, self.btn_browse, self.signature):
            w.setEnabled(not busy)
        self.btn_cancel.setText("Stop" if busy else "Close")

    def _show(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        self.status.setText(text)

    # -- closing -------------------------------------------------------------------------

    def done(self, code: int) -> None:
        if self._running:  # Esc or the window's close button: stop first
            self.cancel()
            return
        self.shutdown()
        super().done(code)

    def shutdown(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.close()
            self._client = None
        self.lane.shutdown()


def can_freeze(loaded) -> bool:
    """Whether a model on screen is one to freeze: a graph with variables and their values
    (a checkpoint with its .meta, or a SavedModel with variables)."""
    return (loaded is not None and loaded.graph is not None and bool(loaded.graph.variables())
            and loaded.model.kind != "graph" and loaded.checkpoint is not None)


def freezable_op(loaded, op: str | None) -> str | None:
    """`op` as an output to freeze for, or None where a graph op is not one: a TF2
    SavedModel's top-level graph only calls its functions (its outputs are the
    signature's)."""
    graph = loaded.graph
    if op is None or graph is None:
        return None
    if loaded.model.kind == "savedmodel" and graph.meta_graph is not None and \
            len(graph.meta_graph.object_graph_def.nodes) > 0:
        return None
    return op


def freeze_dialog_for(loaded, title: str, outputs: list[str] = (),
                      parent: QWidget | None = None) -> FreezeDialog:
    """The dialog for the model `loaded` (app.analysis.loading.Loaded) shows, at the
    checkpoint it shows."""
    model = loaded.model
    saved_model = model.kind == "savedmodel"
    ckpt = loaded.checkpoint
    signatures = sorted(k for k in loaded.graph.signatures() if not k.startswith("__")) \
        if saved_model else []
    label = "" if saved_model or ckpt is None else (
        f"step {ckpt.step}" if ckpt.step is not None else ckpt.name)
    dialog = FreezeDialog(model.path, title=title, folder=model.folder,
                          checkpoint=None if saved_model or ckpt is None else ckpt.prefix,
                          checkpoint_label=label, outputs=list(outputs), signatures=signatures,
                          parent=parent)
    return dialog
