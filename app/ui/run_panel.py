"""The "Run" tab of a model view: choose fetches, fill in the placeholders they need, run
them in the runner's worker process (app.runner.worker) on one checkpoint or on every
checkpoint of the run, and look at the results.

What a run needs, which feeds fit, and which errors stop a run over every checkpoint are
app.runner.service's, as on the command line; this panel is the form and the results.
Nothing here blocks the UI thread on TensorFlow: the feeds form is recomputed on a lane
(a pure graph walk), and runs go through a `RunnerClient` (a separate process) called from
another lane's thread. Cancelling kills the worker process; the next run starts a new one.

The panel does not import TensorFlow, and builds its plot (pyqtgraph) on first use.
"""

from __future__ import annotations

import html
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFrame, QGridLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton,
                               QScrollArea, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from ..formats import dtypes
from ..formats.errors import FormatError
from ..formats.signatures import signatures as signature_list
from ..runner import feeds as feeds_mod
from ..runner import graphwalk, media, service
from ..runner.service import CheckpointRun, FeedSpec
from ..runner.session import RunError, plan
from . import run_follow
from .widgets.message import confirm_unsafe_ops
from .workers import Lane

_ERROR_STYLE = "color: #c0392b;"
_OK_STYLE = "color: palette(mid);"
RESULTS_MIN_HEIGHT = 240


# -- what the panel works on -------------------------------------------------------------

@dataclass
class RunRecord:
    """One entry of the run history."""
    fetches: list[str]
    feeds: dict[str, str]       # label → the text typed
    checkpoint: str             # what was chosen, for display
    every: bool
    runs: list[CheckpointRun] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None    # a run that gave nothing
    cancelled: bool = False
    when: float = field(default_factory=time.time)
    following: bool = False     # "Run on each new checkpoint": rows added as they land
    unsafe_ok: bool = False     # following: its unsafe ops were confirmed once

    def title(self) -> str:
        feeds = ", ".join(f"{k.removesuffix(':0')}={_short(v, 24)}" for k, v in self.feeds.items())
        what = ", ".join(self.fetches) or "(signature outputs)"
        head = f"{time.strftime('%H:%M:%S', time.localtime(self.when))}  {what}"
        if feeds:
            head += f"  ←  {feeds}"
        tail = "cancelled" if self.cancelled else ("failed" if self.error else f"{self.seconds:.2f} s")
        return f"{head}   @ {self.checkpoint}   {tail}"


# -- helpers ----------------------------------------------------------------------------

def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def dtype_text(arr) -> str:
    if arr is None:
        return ""
    arr = np.asarray(arr)
    return "string" if arr.dtype == object else str(arr.dtype)


def summary(value) -> str:
    """A value in one line: scalars in full, arrays by their first values."""
    if value is None:
        return "(an op without outputs: ran)"
    arr = np.asarray(value)
    if arr.ndim == 0:
        item = arr.item()
        if isinstance(item, bytes):
            return repr(item.decode("utf-8", "backslashreplace"))
        if isinstance(item, float):
            return f"{item:.7g}"
        return str(item)
    if arr.dtype == object:
        flat = [x.decode("utf-8", "backslashreplace") if isinstance(x, bytes) else str(x)
                for x in arr.ravel()[:4]]
        return _short(", ".join(repr(x) for x in flat), 80)
    text = np.array2string(arr, threshold=8, edgeitems=2, precision=5, max_line_width=10_000)
    text = _short(text, 90)
    if arr.size > 1 and dtypes.kind(arr.dtype) in ("int", "float"):
        with np.errstate(all="ignore"):
            text += f"   (min {arr.min():.4g}, max {arr.max():.4g})"
    return text


def output_count(graph, op_name: str) -> int | None:
    """How many outputs an op has, when the graph says (`_output_shapes`), else None."""
    try:
        node = graph.node(op_name)
    except (KeyError, AttributeError):
        return None
    if "_output_shapes" in node.attr:
        return len(node.attr["_output_shapes"].list.shape)
    return None


def _scalar(value) -> float | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.size != 1 or not dtypes.is_numeric(arr.dtype):
        return None
    return float(arr.reshape(()))


# -- one row of the feeds form ------------------------------------------------------------

class FeedRow(QFrame):
    """Name, dtype and shape, the value's text, a file button, and what is wrong with it.
    A file dropped on the row becomes `@path`."""

    changed = Signal()

    def __init__(self, spec: FeedSpec, text: str = "", base_dir: str | None = None, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.base_dir = base_dir
        self.setAcceptDrops(True)
        self.setObjectName("feedRow")
        lay = QGridLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setHorizontalSpacing(8)
        lay.setVerticalSpacing(0)
        name = spec.label.removesuffix(":0") if spec.label == spec.tensor else spec.label
        self.name_label = QLabel(f"<b>{html.escape(name)}</b>")
        self.name_label.setToolTip(spec.tensor)
        opt = "  optional" if spec.optional else ""
        self.type_label = QLabel(f"{spec.dtype} {feeds_mod.shape_text(spec.shape)}{opt}")
        self.type_label.setStyleSheet(_OK_STYLE)
        self.edit = QLineEdit(text)
        self.edit.setPlaceholderText(
            "default value" if spec.optional else "13, [[1, 2], [3, 4]], zeros(2, 3), @file.npy")
        self.edit.setToolTip("A literal (13, [1, 2], True, \"text\"), a constructor (zeros(2, 3), "
                             "ones(…), full(…, v), arange(…), linspace(…), random(…, seed=0)) "
                             "or @FILE (.npy, .npz[:key], .csv; an image, resized to the input, "
                             "@cat.jpg:-1..1 for its value range; a .wav; text lines). "
                             "Drop a file here to load it.")
        self.browse = QPushButton("…")
        self.browse.setToolTip("Load the value from a file: arrays, an image, a WAV file or text")
        self.range_choice = QComboBox()      # an image's value range, as the text's suffix
        for name in media.RANGES:
            self.range_choice.addItem(f"range {name}", name)
        self.range_choice.setToolTip("The value range the image's pixels are scaled to")
        self.range_choice.hide()
        self.range_choice.activated.connect(self._range_chosen)
        self.browse.setFixedWidth(32)
        self.browse.clicked.connect(self._pick_file)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(_ERROR_STYLE)
        self.message.hide()
        lay.addWidget(self.name_label, 0, 0)
        lay.addWidget(self.type_label, 0, 1)
        lay.addWidget(self.edit, 0, 2)
        lay.addWidget(self.range_choice, 0, 3)
        lay.addWidget(self.browse, 0, 4)
        lay.addWidget(self.message, 1, 2, 1, 3)
        lay.setColumnStretch(2, 1)
        self.edit.textChanged.connect(self._edited)
        self.validate()

    @property
    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)

    def _edited(self, _text: str) -> None:
        self.validate()
        self.changed.emit()

    def set_message(self, text: str, error: bool = True) -> None:
        self.problem = text if error else ""   # a note (what a media file became) is no problem
        self.message.setText(text)
        self.message.setStyleSheet(_ERROR_STYLE if error else _OK_STYLE)
        self.message.setVisible(bool(text))

    def _range_chosen(self, _index: int) -> None:
        self.set_text(media.with_range(self.text, self.range_choice.currentData()))

    def validate(self, load_files: bool = False):
        """The value as an array fit for the placeholder, or None (the message says why;
        also None for an empty optional row). Files are only checked for existence unless
        `load_files` (loading a big file is the run's work, not the form's)."""
        text = self.text
        if not text:
            self.set_message("" if self.spec.optional else "")
            return None
        image = media.image_range_of(text)
        self.range_choice.setVisible(image is not None)
        if image is not None:
            self.range_choice.setCurrentIndex(self.range_choice.findData(image))
        try:
            if text.startswith("@") and not (load_files or media.is_small_media(
                    text, self.base_dir)):
                feeds_mod.locate_file(text[1:].strip(), self.base_dir)
                self.set_message("")
                return None
            value = feeds_mod.parse_feed(text, self.base_dir)
            out = feeds_mod.coerce(value, self.spec.dtype, self.spec.shape)
        except feeds_mod.FeedError as e:
            self.set_message(e.problem)
            return None
        # what a media file became (its size, range, rate), said under the row
        self.set_message(value.describe(out) if isinstance(value, media.MediaFeed) else "",
                         error=False)
        return out

    def _pick_file(self) -> None:
        path, _f = QFileDialog.getOpenFileName(self, f"Value of {self.spec.label}",
                                               self.base_dir or "",
                                               "Values (*.npy *.npz *.csv *.txt *.png *.jpg "
                                               "*.jpeg *.bmp *.gif *.webp *.tif *.tiff *.wav);;"
                                               "All files (*)")
        if path:
            self.set_text("@" + path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt)
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.set_text("@" + files[0])
            event.acceptProposedAction()


# -- the panel ----------------------------------------------------------------------------

class RunPanel(QWidget):
    """Run tensors of the model a ModelView shows.

    Set up with `set_model(model, graph, checkpoint)` (again whenever the view's checkpoint
    or meta graph changes); `set_selected_op(name)` keeps "Add selected op" in step with
    the graph tree, and `add_fetch(name)` adds an op's outputs (or a tensor) to the fetches.
    `show_value(title, array)` asks the view to show a result in its value panel;
    `status_changed(text)` says what the worker does. Call `shutdown()` when closing."""

    show_value = Signal(str, object)
    status_changed = Signal(str)
    run_finished = Signal(object)         # the RunRecord (for tests and the status bar)
    freeze_requested = Signal(list, object)  # "Freeze…": the fetches, the signature (or None)
    _worker_status = Signal(str)          # from the run thread
    _partial = Signal(object)             # a CheckpointRun, from the run thread

    def __init__(self, client=None, parent=None):
        super().__init__(parent)
        self._client = client              # a RunnerClient; made on the first run if None
        self._own_client = client is None
        self.model = None
        self.graph = None
        self.checkpoint = None
        self._selected_op: str | None = None
        self._signatures_on = False
        self._feed_texts: dict[str, str] = {}
        self._rows: list[FeedRow] = []
        self.analysis: service.RunNeeds | None = None
        self.history: list[RunRecord] = []
        self._shown: RunRecord | None = None
        self._running: RunRecord | None = None
        self._stop = threading.Event()
        self._plot = None
        self.analyze_lane = Lane("run-form", self)
        self.run_lane = Lane("run", self)
        self._worker_status.connect(self._show_status)
        self._partial.connect(self._add_partial)
        self._analyze_timer = QTimer(self)
        self._analyze_timer.setSingleShot(True)
        self._analyze_timer.setInterval(0)
        self._analyze_timer.timeout.connect(self._analyze)
        self._build()
        self.follower = run_follow.RunFollower(self)
        self._update_buttons()

    # -- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        split = QSplitter(Qt.Vertical)
        split.setChildrenCollapsible(False)
        outer.addWidget(split)
        self.splitter = split

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)

        # fetches
        fbox = QGroupBox("Fetch")
        fl = QVBoxLayout(fbox)
        frow = QHBoxLayout()
        self.fetch_edit = QLineEdit()
        self.fetch_edit.setPlaceholderText("tensor name, e.g. accuracy:0")
        self.fetch_edit.returnPressed.connect(self._add_typed)
        self.btn_add = QPushButton("Add")
        self.btn_add.clicked.connect(self._add_typed)
        self.btn_add_selected = QPushButton("Add selected op")
        self.btn_add_selected.setToolTip("Add the outputs of the op selected in the graph tree")
        self.btn_add_selected.clicked.connect(lambda: self.add_fetch(self._selected_op))
        self.btn_remove = QPushButton("Remove")
        self.btn_remove.clicked.connect(self.remove_selected_fetches)
        frow.addWidget(self.fetch_edit, 1)
        frow.addWidget(self.btn_add)
        frow.addWidget(self.btn_add_selected)
        frow.addWidget(self.btn_remove)
        fl.addLayout(frow)
        self.fetch_list = QListWidget()
        self.fetch_list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.fetch_list.setMaximumHeight(76)
        self.fetch_list.itemSelectionChanged.connect(self._update_buttons)
        fl.addWidget(self.fetch_list)
        self.fetch_message = QLabel()
        self.fetch_message.setWordWrap(True)
        self.fetch_message.setStyleSheet(_ERROR_STYLE)
        self.fetch_message.hide()
        fl.addWidget(self.fetch_message)
        # SavedModels: a signature instead of fetches
        srow = QHBoxLayout()
        self.signature_label = QLabel("Signature")
        self.signature = QComboBox()
        self.signature.currentIndexChanged.connect(self._signature_chosen)
        self.signature_io = QLabel()
        self.signature_io.setWordWrap(True)
        self.signature_io.setStyleSheet(_OK_STYLE)
        srow.addWidget(self.signature_label)
        srow.addWidget(self.signature)
        srow.addWidget(self.signature_io, 1)
        fl.addLayout(srow)
        for w in (self.signature_label, self.signature, self.signature_io):
            w.hide()
        tl.addWidget(fbox)

        # feeds
        self.feeds_box = QGroupBox("Feeds")
        vb = QVBoxLayout(self.feeds_box)
        vb.setContentsMargins(4, 4, 4, 4)
        self.feeds_note = QLabel("Add a fetch to see the placeholders it needs.")
        self.feeds_note.setStyleSheet(_OK_STYLE)
        vb.addWidget(self.feeds_note)
        self.feeds_scroll = QScrollArea()
        self.feeds_scroll.setWidgetResizable(True)
        self.feeds_scroll.setFrameShape(QFrame.NoFrame)
        self.feeds_inner = QWidget()
        self.feeds_layout = QVBoxLayout(self.feeds_inner)
        self.feeds_layout.setContentsMargins(0, 0, 0, 0)
        self.feeds_layout.setSpacing(2)
        self.feeds_layout.addStretch(1)
        self.feeds_scroll.setWidget(self.feeds_inner)
        self.feeds_scroll.hide()
        vb.addWidget(self.feeds_scroll)
        tl.addWidget(self.feeds_box, 1)

        # checkpoint, run, cancel, status
        rrow = QHBoxLayout()
        self.checkpoint_label = QLabel("Checkpoint")
        self.checkpoint_choice = QComboBox()
        self.checkpoint_choice.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.btn_run = QPushButton("Run")
        self.btn_run.setDefault(True)
        self.btn_run.clicked.connect(self.run)
        self.btn_cancel = QPushButton("Cancel")
        self.btn_cancel.clicked.connect(self.cancel)
        self.btn_freeze = QPushButton("Freeze…")
        self.btn_freeze.setToolTip("Fold the variables into constants for these fetches: one "
                                   "frozen graph (.pb) to serve")
        self.btn_freeze.clicked.connect(lambda: self.freeze_requested.emit(
            [] if self.signature_key is not None else self.fetches, self.signature_key))
        self.follow_new = QCheckBox("Run on each new checkpoint")
        self.follow_new.setToolTip("While training writes this run: run these fetches on each "
                                   "checkpoint as it lands, one row per step under Across "
                                   "checkpoints")
        self.follow_new.setEnabled(False)
        self.status = QLabel()
        self.status.setStyleSheet(_OK_STYLE)
        rrow.addWidget(self.checkpoint_label)
        rrow.addWidget(self.checkpoint_choice)
        rrow.addWidget(self.follow_new)
        self.status.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        rrow.addWidget(self.status, 1)
        rrow.addWidget(self.btn_freeze)
        rrow.addWidget(self.btn_run)
        rrow.addWidget(self.btn_cancel)
        tl.addLayout(rrow)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error.setStyleSheet("QLabel { background: rgba(192,57,43,0.15); border-radius: 4px;"
                                 " padding: 4px 6px; }")
        self.error.hide()
        tl.addWidget(self.error)
        split.addWidget(top)

        # results and history
        self.result_tabs = QTabWidget()
        self.result_tabs.setDocumentMode(True)
        self.results = QTableWidget(0, 4)
        self.results.setHorizontalHeaderLabels(["Fetch", "Type", "Shape", "Value"])
        self._table_style(self.results)
        self.results.horizontalHeader().setSectionResizeMode(3, QHeaderView.Stretch)
        self.results.cellClicked.connect(self._result_clicked)
        self.results.currentCellChanged.connect(lambda r, _c, _pr, _pc: self._result_clicked(r, 0))
        from .displays.run_output import RunOutputView
        self.output_view = RunOutputView()   # the chosen result as a person reads it
        self.results_split = QSplitter(Qt.Horizontal)
        self.results_split.setChildrenCollapsible(False)
        self.results_split.addWidget(self.results)
        self.results_split.addWidget(self.output_view)
        self.results_split.setSizes([500, 400])
        self.result_tabs.addTab(self.results_split, "Results")
        self.epochs_box = QSplitter(Qt.Horizontal)
        self.epochs_box.setChildrenCollapsible(False)
        self.plot_slot = QStackedWidget()
        self.plot_note = QLabel("No scalar fetch to plot.")
        self.plot_note.setAlignment(Qt.AlignCenter)
        self.plot_note.setEnabled(False)
        self.plot_slot.addWidget(self.plot_note)
        self.epoch_table = QTableWidget(0, 1)
        self._table_style(self.epoch_table)
        self.epoch_table.cellClicked.connect(self._epoch_cell_clicked)
        self.epochs_box.addWidget(self.plot_slot)
        self.epochs_box.addWidget(self.epoch_table)
        self.epochs_box.setSizes([400, 300])
        self.result_tabs.addTab(self.epochs_box, "Across checkpoints")
        self.result_tabs.setTabEnabled(1, False)
        self.history_list = QListWidget()
        self.history_list.currentRowChanged.connect(self._history_chosen)
        self.result_tabs.addTab(self.history_list, "History")
        split.addWidget(self.result_tabs)
        # The form keeps its natural height; the rest goes to the results, which keep room
        # for a readable plot (the Run tab scrolls when the window is smaller).
        self.result_tabs.setMinimumHeight(RESULTS_MIN_HEIGHT)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)

    @staticmethod
    def _table_style(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.SingleSelection)
        table.setAlternatingRowColors(True)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(22)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)

    # -- the model -------------------------------------------------------------------

    def set_model(self, model, graph, checkpoint=None) -> None:
        """The model (app.formats.model.Model), the graph shown (app.formats.graph.Graph)
        and the checkpoint selected in the view. Fetches and typed values are kept while
        the graph stays the same."""
        same_graph = graph is self.graph
        if model is not self.model:
            self.output_view.set_model_path(model.path if model is not None else None)
        self.model, self.graph, self.checkpoint = model, graph, checkpoint
        self._fill_checkpoints()
        is_run = model is not None and model.kind == "run"
        if not is_run:
            self.follow_new.setChecked(False)
        self.follow_new.setEnabled(is_run)
        if not same_graph:
            self._fill_signatures()
            self.analysis = None
            self._schedule_analysis()
        self._update_buttons()

    @property
    def kind(self) -> str | None:
        return self.model.kind if self.model is not None else None

    def _fill_checkpoints(self) -> None:
        combo = self.checkpoint_choice
        keep = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        model = self.model
        if model is None:
            combo.blockSignals(False)
            return
        on_disk = [c for c in model.checkpoints if c.on_disk]
        if model.kind == "graph":
            combo.addItem("none: a frozen graph runs with its constants", ("none", None))
        elif model.kind == "savedmodel":
            combo.addItem("the SavedModel's variables", ("current", None))
        else:
            current = self.checkpoint or model.selected
            name = current.name if current is not None else "none"
            combo.addItem(f"current: {name}", ("current", None))
            if len(on_disk) > 1:
                combo.addItem(f"every checkpoint ({len(on_disk)})", ("every", None))
                for c in on_disk:
                    step = f"  (step {c.step})" if c.step is not None else ""
                    combo.addItem(f"{c.name}{step}", ("one", c.prefix))
        index = combo.findData(keep) if keep is not None else -1
        combo.setCurrentIndex(max(index, 0))
        combo.setEnabled(combo.count() > 1)
        combo.blockSignals(False)

    def choose_checkpoint(self, which: str) -> None:
        """"current", "every", or a checkpoint prefix."""
        for i in range(self.checkpoint_choice.count()):
            mode, prefix = self.checkpoint_choice.itemData(i)
            if which == mode or (prefix is not None and which == prefix):
                self.checkpoint_choice.setCurrentIndex(i)
                return
        raise KeyError(which)

    def _fill_signatures(self) -> None:
        # the loader's init op is no signature to call
        sigs = [x.key for x in signature_list(self.graph.meta_graph)] if self.graph is not None else []
        combo = self.signature
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("(none: fetch tensors)", None)
        for key in sorted(sigs):
            combo.addItem(key, key)
        if "serving_default" in sigs:
            combo.setCurrentIndex(combo.findData("serving_default"))
        combo.blockSignals(False)
        show = self._signatures_on = self.kind == "savedmodel" and bool(sigs)
        for w in (self.signature_label, self.signature, self.signature_io):
            w.setVisible(show)
        self._signature_chosen()

    def choose_signature(self, key: str) -> bool:
        """Run through signature `key` (a SavedModel's), as choosing it in the form does."""
        i = self.signature.findData(key)
        if not self._signatures_on or i < 0:
            return False
        self.signature.setCurrentIndex(i)
        return True

    @property
    def signature_key(self) -> str | None:
        return self.signature.currentData() if self._signatures_on else None

    def _signature_chosen(self, _index: int = 0) -> None:
        key = self.signature_key
        if key is None:
            self.signature_io.setText("")
        else:
            sig = next(x for x in signature_list(self.graph.meta_graph) if x.key == key)
            ins = ", ".join(f"{html.escape(t.key)} <code>{html.escape(t.spec)}</code>" for t in sig.inputs)
            outs = ", ".join(f"{html.escape(t.key)} <code>{html.escape(t.spec)}</code>" for t in sig.outputs)
            self.signature_io.setText(f"inputs: {ins or 'none'}<br>outputs: {outs or 'none'}")
            self.signature_io.setToolTip("\n".join(f"{t.key}: {t.tensor}" for t in sig.inputs + sig.outputs))
        using = key is not None
        for w in (self.fetch_edit, self.btn_add, self.btn_add_selected, self.fetch_list):
            w.setEnabled(not using)
        self._schedule_analysis()
        self._update_buttons()

    # -- fetches -----------------------------------------------------------------------

    @property
    def fetches(self) -> list[str]:
        return [self.fetch_list.item(i).text() for i in range(self.fetch_list.count())]

    def set_selected_op(self, op_name: str | None) -> None:
        """The op selected in the graph tree (None: none), for "Add selected op"."""
        self._selected_op = op_name
        self._update_buttons()

    def add_fetch(self, name: str | None) -> list[str]:
        """Add an op's outputs (`name:0`, `name:1`, … when the graph says how many, else
        `name:0`) or one tensor (`name:K`). Returns the names added."""
        if not name:
            return []
        name = name.strip()
        inside = service.inside_function(self.graph, name) if self.graph is not None else None
        if inside is not None:       # said now, not as an obscure failure of the run
            self._show_error(inside)
            return []
        if name.rpartition(":")[2].isdigit() and ":" in name:
            names = [name]
        else:
            count = output_count(self.graph, name) if self.graph is not None else None
            if count == 0:
                names = [name]           # an op without outputs: run it
            else:
                names = [f"{name}:{i}" for i in range(count or 1)]
        have = set(self.fetches)
        added = [n for n in names if n not in have]
        for n in added:
            self.fetch_list.addItem(n)
        if added:
            self._schedule_analysis()
        self._update_buttons()
        return added

    def remove_fetch(self, name: str) -> None:
        for i in range(self.fetch_list.count() - 1, -1, -1):
            if self.fetch_list.item(i).text() == name:
                self.fetch_list.takeItem(i)
        self._schedule_analysis()
        self._update_buttons()

    def remove_selected_fetches(self) -> None:
        for item in self.fetch_list.selectedItems():
            self.fetch_list.takeItem(self.fetch_list.row(item))
        self._schedule_analysis()
        self._update_buttons()

    def _add_typed(self) -> None:
        if self.add_fetch(self.fetch_edit.text()):
            self.fetch_edit.clear()

    # -- the feeds form ------------------------------------------------------------------

    def _schedule_analysis(self) -> None:
        self.analysis = None
        self._update_buttons()
        self._analyze_timer.start()

    @property
    def analyzing(self) -> bool:
        return self._analyze_timer.isActive() or self.analyze_lane.busy

    def _analyze(self) -> None:
        graph, model, key = self.graph, self.model, self.signature_key
        fetches = [] if key is not None else self.fetches
        if graph is None:
            return

        def task(job):
            kind, restores = service.run_kind(model, graph)
            return service.analyze(graph, fetches, signature=key, kind=kind, restores=restores)

        self.analyze_lane.submit(task, self._analyzed,
                                 lambda m, _d: self._show_error(f"The fetches cannot be followed: {m}"))

    def _analyzed(self, analysis: service.RunNeeds) -> None:
        for row in self._rows:
            self._feed_texts[row.spec.label] = row.text
            row.setParent(None)
            row.deleteLater()
        self._rows = []
        self.analysis = analysis
        base = self._base_dir()
        specs = analysis.feeds
        if analysis.signature is not None:  # inputs in the order of their names
            specs = sorted(specs, key=lambda s: s.label)
        for spec in specs:
            row = FeedRow(spec, self._feed_texts.get(spec.label, ""), base)
            row.changed.connect(self._update_buttons)
            self.feeds_layout.insertWidget(self.feeds_layout.count() - 1, row)
            self._rows.append(row)
        if self._rows:  # line the value boxes up: the name and type columns share a width
            for attr in ("name_label", "type_label"):
                width = max(getattr(r, attr).sizeHint().width() for r in self._rows)
                for r in self._rows:
                    getattr(r, attr).setFixedWidth(width)
        self.feeds_scroll.setVisible(bool(self._rows))
        if not self.fetches and self.signature_key is None:
            note = "Add a fetch to see the placeholders it needs."
        elif not self._rows:
            note = "Nothing to feed: the fetches need no placeholder."
        else:
            n = sum(1 for s in analysis.feeds if not s.optional)
            note = (f"{n} placeholder{'s' if n != 1 else ''} to feed"
                    + (f", {len(analysis.feeds) - n} optional" if n < len(analysis.feeds) else "")
                    + ". Type a value, or drop a file on a row (.npy, .csv, an image, "
                      "a .wav, text lines).")
        self.feeds_note.setText(note)
        if analysis.missing:  # each with similar names, when the graph has some
            self.fetch_message.setText("\n".join(str(e) for e in analysis.missing))
        self.fetch_message.setVisible(bool(analysis.missing))
        self._update_buttons()

    def feed_row(self, name: str) -> FeedRow:
        """The row of a placeholder (with or without ":0") or signature input."""
        for row in self._rows:
            if name in (row.spec.label, row.spec.tensor, row.spec.tensor.removesuffix(":0")):
                return row
        raise KeyError(name)

    def set_feed(self, name: str, text: str) -> None:
        """Type `text` as the value of a feed (its row if shown; kept for later if not)."""
        try:
            self.feed_row(name).set_text(text)
        except KeyError:
            self._feed_texts[graphwalk.tensor_name(name) if ":" not in name and
                             self.signature_key is None else name] = text

    def _base_dir(self) -> str | None:
        return self.model.folder if self.model is not None else None

    # -- running -----------------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            from ..runner.worker import RunnerClient
            self._client = RunnerClient()
            self._own_client = True
        return self._client

    def warm_up(self) -> None:
        """Start the worker now (it imports TensorFlow in its own process)."""
        self.client.start()

    @property
    def running(self) -> bool:
        return self._running is not None

    def _update_buttons(self) -> None:
        running = self.running
        ready = (self.model is not None and self.analysis is not None and not running
                 and (bool(self.fetches) or self.signature_key is not None))
        self.btn_run.setEnabled(ready)
        self.btn_freeze.setEnabled(self.model is not None and self.model.kind != "graph"
                                   and (bool(self.fetches) or self.signature_key is not None))
        self.btn_cancel.setEnabled(running)
        self.btn_add_selected.setEnabled(bool(self._selected_op) and self.signature_key is None)
        self.btn_remove.setEnabled(bool(self.fetch_list.selectedItems()))

    def follow_record(self) -> RunRecord:
        """The accumulating result of "Run on each new checkpoint"."""
        return RunRecord([], {}, "each new checkpoint", True, following=True)

    def run(self, checkpoint: str | None = None, *, step: int | None = None,
            into: RunRecord | None = None) -> bool:
        """Check the form, confirm unsafe ops, and start the run. Returns whether it started.
        With `checkpoint` (a prefix) and `into`: run that checkpoint (of `step`) and add its
        row to `into`, as "Run on each new checkpoint" does; its failure is its row's."""
        if self.running or self.model is None:
            return False
        if self.analysis is None:
            self._show_error("The feeds are still being worked out; try again in a moment.")
            return False
        self.error.hide()
        key = self.signature_key
        fetches = [] if key is not None else self.fetches
        if not fetches and key is None:
            self._show_error("Nothing to run: add a fetch first.")
            return False
        if self.analysis.missing:
            names = ", ".join(e.name for e in self.analysis.missing)
            self._show_error(f"Not in the graph: {names}")
            return False
        feeds_text: dict[str, str] = {}
        feeds: dict[str, object] = {}
        problems = []
        files = []
        unfed = {s.label for s in self.analysis.unfed(r.spec.label for r in self._rows if r.text)}
        for row in self._rows:
            text = row.text
            if not text:
                if row.spec.label in unfed:
                    row.set_message("a value is needed")
                    problems.append(f"missing feed for placeholder {row.spec.tensor} "
                                    f"({row.spec.dtype}, {feeds_mod.shape_text(row.spec.shape)})"
                                    if key is None else f"missing feed for input {row.spec.label}")
                continue
            feeds_text[row.spec.label] = text
            if text.startswith("@"):
                row.validate()
                if row.problem:
                    problems.append(f"{row.spec.label}: {row.problem}")
                files.append(row.spec)
                continue
            value = row.validate()
            if value is None:
                problems.append(f"{row.spec.label}: {row.message.text()}")
            else:
                feeds[row.spec.label] = value
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._show_error(problems[0] + more)
            return False
        unsafe = [str(u) for u in self.analysis.unsafe]
        if unsafe and not (into is not None and into.unsafe_ok) and not self._confirm_unsafe(unsafe):
            self._show_status("not run: unsafe ops were refused")
            return False
        allow_unsafe = bool(unsafe)

        mode, prefix = ("one", checkpoint) if checkpoint is not None else (
            self.checkpoint_choice.currentData() or ("none", None))
        every = mode == "every"
        if mode == "current":
            current = self.checkpoint or self.model.selected
            which = current.prefix if current is not None and self.kind not in ("graph", "savedmodel") else None
            label = current.name if current is not None and which else self.checkpoint_choice.currentText()
        elif mode == "one":
            which, label = prefix, os.path.basename(prefix)
        elif every:
            which, label = None, "every checkpoint"
        else:
            which, label = None, "no checkpoint"
        names = list(fetches) if key is None else [f"signature {key}"]
        if into is not None:      # the form as it is now; the rows accumulate
            record = into
            record.fetches, record.feeds, record.unsafe_ok = names, feeds_text, allow_unsafe
        else:
            record = RunRecord(names, feeds_text, label, every)
        path, client, base = self.model.path, self.client, self._base_dir()
        stop = self._stop = threading.Event()
        say, partial = self._worker_status.emit, self._partial.emit

        def emit(signal, value):
            try:
                signal(value)
            except RuntimeError:  # the panel was deleted while this ran
                pass

        def ran(run: CheckpointRun, done: int, total: int) -> None:
            if into is not None and run.error is not None and run_follow.gone(which):
                run.error = RunError(run_follow.GONE, "checkpoint")   # max_to_keep was faster
            record.runs.append(run)
            emit(partial, (record, run, done, total))

        def task(job):
            t0 = time.perf_counter()
            try:
                gone = run_follow.wait_ready(which) if into is not None else None
                if gone is not None:
                    raise RunError(gone, "checkpoint")
                values = dict(feeds)  # loading files is run work, not UI work
                values.update(service.load_feeds(files, feeds_text, base))
                pl = plan(path, checkpoint=which, all_checkpoints=every, signature=key)
                requests = pl.requests(fetches, values, key, allow_unsafe)
                outcome = service.run_requests(
                    requests, lambda req: client.run(req, on_status=lambda t: emit(say, t)),
                    on_run=ran, should_stop=stop.is_set)
                record.cancelled = outcome.cancelled
                if outcome.error is not None:
                    if into is None:
                        record.error = str(outcome.error)
                    else:
                        ran(CheckpointRun(which, step, None, outcome.error), 1, 1)
                elif outcome.total == 1 and outcome.failed and into is None:
                    # one checkpoint: its failure is the run's, shown as such
                    record.error = str(record.runs.pop().error)
            except (RunError, FormatError) as e:
                if into is None and isinstance(e, RunError):
                    record.error = str(e)
                elif into is None:
                    raise
                else:   # following: this step's row says what happened to it
                    ran(CheckpointRun(which, step, None, e if isinstance(e, RunError)
                                      else RunError(str(e), "checkpoint")), 1, 1)
            record.seconds += time.perf_counter() - t0
            return record

        self._running = record
        self._show_status("starting")
        self._update_buttons()
        self.run_lane.submit(task, self._finished, self._failed)
        return True

    def _confirm_unsafe(self, ops: list[str]) -> bool:
        return confirm_unsafe_ops(
            self, "Run ops that reach outside the session?",
            "Running these fetches would run ops that touch files, processes or the network:",
            ops, "A graph from elsewhere is a program. Run them only if you trust this model.")

    def cancel(self) -> None:
        """Stop the run in progress (the worker process is ended; the next run starts a
        new one)."""
        if not self.running:
            return
        self._stop.set()
        if self._client is not None:
            self._client.cancel()
        self._show_status("cancelling…")

    def _add_partial(self, payload) -> None:
        record, run, done, total = payload
        if record is not self._running:
            return
        if total > 1:
            self._show_status(f"ran {done} of {total} checkpoints")
            self._show_record(record, final=False)

    def _finished(self, record: RunRecord) -> None:
        self._running = None
        self.history_list.blockSignals(True)
        row = self._history_row(record)
        if row is not None:            # following: one entry, growing
            item = self.history_list.item(row)
            item.setText(record.title())
        else:
            row = len(self.history)
            self.history.append(record)
            item = QListWidgetItem(record.title())
            self.history_list.addItem(item)
        item.setToolTip(record.title())
        self.history_list.setCurrentRow(row)
        self.history_list.blockSignals(False)
        if record.cancelled:
            self._show_status("cancelled")
        elif record.error:
            self._show_status("failed")
        else:
            self._show_status(f"done in {record.seconds:.2f} s")
        self._show_record(record)
        self._update_buttons()
        self.run_finished.emit(record)

    def _failed(self, message: str, _details: str) -> None:
        record, self._running = self._running, None
        if record is not None and self._history_row(record) is None:
            record.error = message
            self.history.append(record)
            self.history_list.addItem(record.title())
        self._show_error(message)
        self._show_status("failed")
        self._update_buttons()
        if record is not None:
            self.run_finished.emit(record)

    def _history_row(self, record: RunRecord) -> int | None:
        # by identity: records holding arrays do not compare with ==
        return next((i for i, h in enumerate(self.history) if h is record), None)

    def _show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status_changed.emit(text)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    # -- results -----------------------------------------------------------------------

    def _show_record(self, record: RunRecord, final: bool = True) -> None:
        self._shown = record
        if final:
            if record.error:
                self._show_error(record.error)
            else:
                # a step max_to_keep took first says so in its row; no alarm for it
                failed = [r for r in record.runs if r.error and str(r.error) != run_follow.GONE]
                if failed:
                    first = failed[0]
                    self._show_error(f"{os.path.basename(first.checkpoint or '')}: {first.error}"
                                     + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
                else:
                    self.error.hide()
        last = next((r for r in reversed(record.runs) if r.fetches is not None), None)
        self.results.setRowCount(0)
        if last is not None:
            items = list(last.fetches.items())
            self.results.setRowCount(len(items))
            for i, (name, value) in enumerate(items):
                arr = None if value is None else np.asarray(value)
                cells = [name, dtype_text(arr), "" if arr is None else feeds_mod.shape_text(arr.shape),
                         summary(value)]
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setToolTip(text)
                    if c == 3 and arr is not None and arr.ndim == 0:
                        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    self.results.setItem(i, c, item)
            where = f" at step {last.step}" if record.every and last.step is not None else ""
            self.result_tabs.setTabText(0, f"Results{where}")
            from ..analysis.outputs import kind as output_kind
            readable = next((i for i, (_n, v) in enumerate(items) if output_kind(v)), 0)
            self.output_view.show_output(*items[readable]) if items else None
        else:
            self.result_tabs.setTabText(0, "Results")
        self.result_tabs.setTabEnabled(1, record.every)
        if record.every:
            self._show_epochs(record)
            if final and record.runs:
                self.result_tabs.setCurrentIndex(1)
        elif final:
            self.result_tabs.setCurrentIndex(0)

    def _show_epochs(self, record: RunRecord) -> None:
        names: list[str] = []
        for r in record.runs:
            for n in (r.fetches or {}):
                if n not in names:
                    names.append(n)
        if not names and record.runs:   # none ran yet: a column for why each did not
            names = list(record.fetches[:1])
        t = self.epoch_table
        t.clear()
        t.setColumnCount(2 + len(names))
        t.setHorizontalHeaderLabels(["Step", "Checkpoint"] + names)
        t.setRowCount(len(record.runs))
        for i, r in enumerate(record.runs):
            step = QTableWidgetItem("" if r.step is None else str(r.step))
            step.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            t.setItem(i, 0, step)
            t.setItem(i, 1, QTableWidgetItem(os.path.basename(r.checkpoint or "")))
            for j, n in enumerate(names):
                if r.fetches is None:
                    gone = str(r.error) == run_follow.GONE
                    text = ("deleted" if gone else "failed") if j == 0 else ""
                    item = QTableWidgetItem(text)
                    item.setToolTip(str(r.error or ""))
                else:
                    item = QTableWidgetItem(summary(r.fetches.get(n)))
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                t.setItem(i, 2 + j, item)
        if record.following:
            t.scrollToBottom()       # the newest step in view
        scalars = [n for n in names
                   if all(r.fetches is None or _scalar(r.fetches.get(n)) is not None
                          for r in record.runs)]
        self.plotted = scalars
        if not scalars:
            self.plot_slot.setCurrentWidget(self.plot_note)
            return
        plot = self._plot_widget()
        colors = ["#2e86de", "#e67e22", "#27ae60", "#c0392b", "#8e44ad", "#16a085"]
        xs_all = [r.step if r.step is not None else i for i, r in enumerate(record.runs)]
        series = []
        for k, n in enumerate(scalars):
            pts = [(x, _scalar(r.fetches.get(n))) for x, r in zip(xs_all, record.runs)
                   if r.fetches is not None]
            if pts:
                xs, ys = zip(*pts)
                series.append((n, list(xs), list(ys), colors[k % len(colors)]))
        plot.set_series(series)          # different scales: axes of their own
        self.plot_slot.setCurrentWidget(plot)

    def _plot_widget(self):
        if self._plot is None:
            from .widgets.scaled_curves import ScaledCurves
            self._plot = ScaledCurves("step")
            self._plot.setMinimumWidth(240)
            self.plot_slot.addWidget(self._plot)
        return self._plot

    def _result_clicked(self, row: int, _col: int) -> None:
        record = self._shown
        if record is None or row < 0:
            return
        last = next((r for r in reversed(record.runs) if r.fetches is not None), None)
        if last is None or row >= len(last.fetches):
            return
        name = list(last.fetches)[row]
        self.output_view.show_output(name, last.fetches.get(name))
        self._emit_value(name, last, record)

    def _epoch_cell_clicked(self, row: int, col: int) -> None:
        record = self._shown
        if record is None or not 0 <= row < len(record.runs):
            return
        run = record.runs[row]
        names = [self.epoch_table.horizontalHeaderItem(c).text()
                 for c in range(2, self.epoch_table.columnCount())]
        if run.fetches is None or not names:
            return
        name = names[col - 2] if col >= 2 else names[0]
        self._emit_value(name, run, record)

    def _emit_value(self, name: str, run: CheckpointRun, record: RunRecord) -> None:
        value = run.fetches.get(name)
        if value is None:
            return
        where = f" at step {run.step}" if run.step is not None else (
            f" in {os.path.basename(run.checkpoint)}" if run.checkpoint else "")
        self.show_value.emit(f"{name}{where}   (run)", np.asarray(value))

    def _history_chosen(self, row: int) -> None:
        if 0 <= row < len(self.history):
            self._show_record(self.history[row])

    # -- closing -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop a run in progress, end the worker (when the panel made it) and the lanes."""
        self._stop.set()
        if self._client is not None:
            if self._own_client:
                self._client.close()
            else:
                self._client.cancel()
        self.analyze_lane.shutdown()
        self.run_lane.shutdown()
