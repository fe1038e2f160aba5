"""The dialogs that write checkpoints: "Save as…" (a change plan the user edits: keep,
rename, cast, strip the optimizer) and "Average checkpoints…". Both plan and write through
app.analysis.edit on a lane of their own, off the UI thread; the result's prefix is emitted
as `written`, for the window to open it in a new tab. Nothing here reads bytes."""

from __future__ import annotations

import os
import re

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QSizePolicy, QSpinBox, QTableView, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ..analysis import edit
from ..formats.display import human_bytes
from ..formats.errors import FormatError
from ..formats.model import load_graphs, open_checkpoint
from .workers import Lane

ERROR_STYLE = "color: #b3261e;"
PLAN_DELAY_MS = 200     # typing a pattern re-plans once the user pauses


def _free_prefix(folder: str, name: str) -> str:
    """`folder/name`, or `folder-2/name`, … : the first whose folder holds no such result."""
    candidate, n = folder, 1
    while os.path.exists(os.path.join(candidate, name) + ".index"):
        n += 1
        candidate = f"{folder}-{n}"
    return os.path.join(candidate, name)


def default_destination(source_prefix: str, suffix: str, name: str | None = None) -> str:
    """Beside the source's folder, never in it: `run/ckpt-5` → `run-<suffix>/ckpt-5`."""
    folder = os.path.dirname(os.path.abspath(source_prefix))
    return _free_prefix(f"{folder}-{suffix}", name or os.path.basename(source_prefix) or "model.ckpt")


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.hide()
    return label


def _say(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


def summary_text(plan: edit.Plan) -> str:
    counts = plan.counts()
    if counts.get("averaged"):         # in an average, what is not averaged is the newest's
        counts = {("from the newest" if what == "kept" else what): n for what, n in counts.items()}
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    return (f"{len(plan.rows)} variables: {', '.join(parts)}  ·  "
            f"{human_bytes(plan.bytes_before)} → {human_bytes(plan.bytes_after)}")


def notes_text(plan: edit.Plan) -> str:
    lines = []
    if plan.graph_note:
        lines.append(f"Graph: {plan.graph_note}.")
    lines += [f"Note: {n}." for n in plan.notes]
    return "\n".join(lines)


class _WriteDialog(QDialog):
    """What both dialogs share: a lane, the destination, Write with progress and Cancel.
    Subclasses fill `self.body`, call `replan()` when the request changes, and implement
    `_make_plan(job)` (runs on the lane) and `_show_plan(plan)`."""

    written = Signal(str)          # the result's prefix

    def __init__(self, title: str, destination: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModal)
        self.lane = Lane("edit", self)
        self.lane.progress.connect(lambda f, _t: self.progress.setValue(int(1000 * f)))
        self.lane.busy_changed.connect(self._busy_changed)
        self.plan: edit.Plan | None = None
        self._last_plan: edit.Plan | None = None    # for checking the destination meanwhile
        self._writing = None        # the write's Job while it runs
        self._cancelling = False
        self._timer = QTimer(self, singleShot=True, interval=PLAN_DELAY_MS)
        self._timer.timeout.connect(self._plan_now)

        outer = QVBoxLayout(self)
        outer.setSpacing(8)
        self.body = QVBoxLayout()
        outer.addLayout(self.body, 1)
        self.plan_error = _error_label()
        outer.addWidget(self.plan_error)
        self.summary = QLabel("Planning…")
        bold = self.summary.font()
        bold.setBold(True)
        self.summary.setFont(bold)
        outer.addWidget(self.summary)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextSelectableByMouse)
        outer.addWidget(self.notes)

        dest_row = QHBoxLayout()
        dest_row.addWidget(QLabel("Save to:"))
        self.destination = QLineEdit(destination)
        self.destination.setToolTip("The result's prefix: PREFIX.index and PREFIX.data-* are written, "
                                    "and the folder's checkpoint file names it")
        self.destination.textChanged.connect(lambda _t: self._check_destination())
        dest_row.addWidget(self.destination, 1)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        dest_row.addWidget(self.browse)
        outer.addLayout(dest_row)
        self.dest_error = _error_label()
        outer.addWidget(self.dest_error)

        buttons = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.state = QLabel()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.state, 1)
        buttons.addStretch(0)
        self.write_button = QPushButton("Write")
        self.write_button.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.write_button.setMinimumWidth(110)
        self.write_button.setDefault(True)
        self.write_button.clicked.connect(self.write)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.cancel_button.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.cancel_button.setMinimumWidth(110)
        buttons.addWidget(self.write_button)
        buttons.addWidget(self.cancel_button)
        outer.addLayout(buttons)
        self._update_buttons()

    # -- planning -----------------------------------------------------------------------

    def replan(self, at_once: bool = False) -> None:
        if at_once:
            self._plan_now()
        else:
            self.plan = None               # no writing the previous plan meanwhile
            self._update_buttons()
            self._timer.start()

    def _plan_now(self) -> None:
        if self._writing is not None:
            return
        self.plan = None
        self._update_buttons()

        def task(job):
            try:
                return self._make_plan(job)
            except edit.PlanError as e:      # the request as typed cannot be done: say why
                return e

        self.lane.submit(task, self._planned, self._plan_failed)

    def _planned(self, plan) -> None:
        if isinstance(plan, edit.PlanError):
            self._plan_failed(str(plan), "")
            return
        self.plan = self._last_plan = plan
        _say(self.plan_error, None)
        for w in self._previews():
            w.setEnabled(True)
        self.summary.setText(summary_text(plan))
        self.notes.setText(notes_text(plan))
        self.notes.setVisible(bool(self.notes.text()))
        self._show_plan(plan)
        self._check_destination()
        self._update_buttons()

    def _plan_failed(self, message: str, _details: str) -> None:
        self.plan = None
        _say(self.plan_error, message)
        self.summary.setText("No result to write: change what is said above.")
        self.notes.setText("")
        self.notes.hide()
        for w in self._previews():       # what they show is the last plan that could be made
            w.setEnabled(False)
        self._update_buttons()

    def _previews(self) -> list[QWidget]:
        return []

    def _make_plan(self, job) -> edit.Plan:
        raise NotImplementedError

    def _show_plan(self, plan: edit.Plan) -> None:
        pass

    # -- destination --------------------------------------------------------------------

    def destination_prefix(self) -> str:
        return os.path.abspath(os.path.expanduser(self.destination.text().strip()))

    def _check_destination(self) -> str | None:
        problem = None
        if not self.destination.text().strip():
            problem = "Give the result's prefix, e.g. out/model.ckpt"
        elif (self.plan or self._last_plan) is not None:
            problem = (self.plan or self._last_plan).destination_problem(self.destination_prefix())
            if problem:
                problem = f"{self.destination_prefix()}: {problem}"
        _say(self.dest_error, problem)
        self._update_buttons()
        return problem

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the result as", self.destination_prefix(),
                                              "Checkpoint prefix (*)")
        if path:
            self.destination.setText(path[:-len(".index")] if path.endswith(".index") else path)

    # -- writing ------------------------------------------------------------------------

    def write(self) -> None:
        plan = self.plan
        if plan is None or self._writing is not None or self._check_destination():
            return
        prefix = self.destination_prefix()

        def task(job):
            try:
                return edit.write_plan(plan, prefix, progress=job.progress, cancelled=job.cancelled)
            except edit.PlanError as e:
                return e

        self._cancelling = False
        self.progress.setValue(0)
        self.state.setText("")
        self._writing = self.lane.submit(task, self._written, self._write_failed)
        self._set_editable(False)
        self._update_buttons()

    def _written(self, result) -> None:
        self._writing = None
        if isinstance(result, edit.PlanError):
            self._write_failed(str(result), "")
            return
        self.state.setText(f"Wrote {result.prefix}")
        self.written.emit(result.prefix)
        self.accept()

    def _write_failed(self, message: str, _details: str) -> None:
        self._writing = None
        self._set_editable(True)
        _say(self.dest_error, f"Nothing was written: {message}")
        self._update_buttons()

    def _cancel(self) -> None:
        if self._writing is not None:
            # Ask the write to stop; it removes what it began, then the lane goes idle.
            self._cancelling = True
            self._writing.cancel()
            self.state.setText("Cancelling…")
            self._update_buttons()
        else:
            self.reject()

    def _busy_changed(self, busy: bool) -> None:
        if not busy and self._writing is not None and self._writing.cancelled():
            self._writing = None
            self._cancelling = False
            self._set_editable(True)
            self.state.setText("Cancelled: nothing was written")
            self.progress.hide()
            self._update_buttons()

    def _set_editable(self, editable: bool) -> None:
        for w in self._editables():
            w.setEnabled(editable)
        self.destination.setEnabled(editable)
        self.browse.setEnabled(editable)

    def _editables(self) -> list[QWidget]:
        return []

    def _update_buttons(self) -> None:
        writing = self._writing is not None
        self.progress.setVisible(writing)
        if writing:
            self.state.setText("Cancelling…" if self._cancelling else "")
        self.state.setVisible(bool(self.state.text()))
        self.write_button.setEnabled(not writing and self.plan is not None
                                     and not self.dest_error.isVisible() and bool(self.plan.kept))
        self.cancel_button.setText("Stop writing" if writing else "Cancel")
        self.cancel_button.setEnabled(not self._cancelling)

    def done(self, code: int) -> None:
        self._timer.stop()
        if self._writing is not None:
            self._writing.cancel()
        self.lane.shutdown()        # waits for the worker: it may still hold the readers
        self._close_readers()
        super().done(code)

    def _close_readers(self) -> None:
        pass


# -- Save as… ------------------------------------------------------------------------------

_REASONS = {"matched by --drop": "unchecked", "not matched by --keep": "unchecked"}


class PlanModel(QAbstractTableModel):
    """The plan's rows; the first column's check box keeps or drops a variable."""

    COLUMNS = ("Variable", "Saved as", "Type", "Shape", "Size", "Note")
    toggled = Signal(str, bool)        # key, keep

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[edit.Row] = []
        self.unchecked: set[str] = set()

    def set_plan(self, plan: edit.Plan) -> None:
        self.beginResetModel()
        self.rows = list(plan.rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.COLUMNS[section]
        return None

    def _dropped_otherwise(self, r: edit.Row) -> bool:
        """Dropped by something else than its check box (the optimizer's state)."""
        return not r.kept and r.reason not in _REASONS

    def flags(self, index):
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if index.column() == 0 and not self._dropped_otherwise(self.rows[index.row()]):
            flags |= Qt.ItemIsUserCheckable
        return flags

    def data(self, index, role=Qt.DisplayRole):
        r = self.rows[index.row()]
        col = index.column()
        if role == Qt.CheckStateRole and col == 0:
            # the box says what the user asked at once; the next plan says the rest
            keep = r.key not in self.unchecked and not self._dropped_otherwise(r)
            return Qt.Checked if keep else Qt.Unchecked
        if role == Qt.DisplayRole:
            if col == 0:
                return r.key
            if col == 1:
                return r.new_key if r.kept else "—"
            if col == 2:
                return r.dtype if not r.kept or r.new_dtype == r.dtype else f"{r.dtype} → {r.new_dtype}"
            if col == 3:
                return "[" + ", ".join(str(d) for d in r.shape) + "]"
            if col == 4:
                if not r.kept:
                    return human_bytes(r.bytes_before)
                if r.bytes_after == r.bytes_before:
                    return human_bytes(r.bytes_before)
                return f"{human_bytes(r.bytes_before)} → {human_bytes(r.bytes_after)}"
            if col == 5:
                reason = _REASONS.get(r.reason, r.reason)
                shown = [a for a in r.actions if a != "kept"]
                return "; ".join(x for x in (", ".join(shown), reason) if x)
        if role == Qt.ToolTipRole and col == 0 and r.display_name != r.key:
            return r.display_name
        if role == Qt.ToolTipRole and col == 0 and self._dropped_otherwise(r):
            return f"dropped: {r.reason}"
        if role == Qt.FontRole and col == 1 and "renamed" in r.actions:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ForegroundRole and not r.kept and col > 0:
            from PySide6.QtGui import QPalette
            from PySide6.QtWidgets import QApplication
            return QApplication.palette().color(QPalette.Disabled, QPalette.Text)
        if role == Qt.TextAlignmentRole and col == 4:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def setData(self, index, value, role=Qt.EditRole):
        if role != Qt.CheckStateRole or index.column() != 0:
            return False
        r = self.rows[index.row()]
        keep = Qt.CheckState(value) == Qt.Checked
        (self.unchecked.discard if keep else self.unchecked.add)(r.key)
        self.dataChanged.emit(index, index.siblingAtColumn(len(self.COLUMNS) - 1))
        self.toggled.emit(r.key, keep)
        return True

    def row_of(self, key: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.key == key), -1)


def parse_rename(text: str) -> tuple[str, str] | None:
    """`RE=REPL` → (RE, REPL); "" → None; ValueError with a message otherwise."""
    text = text.strip()
    if not text:
        return None
    pattern, sep, repl = text.partition("=")
    if not sep or not pattern:
        raise ValueError("Rename: expected PATTERN=REPLACEMENT, e.g. ^conv=encoder/conv")
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"Rename: {pattern!r} is not a valid regular expression ({e})") from None
    return pattern, repl


class SaveAsDialog(_WriteDialog):
    """The current checkpoint, edited and written elsewhere."""

    def __init__(self, doc, parent=None):
        loaded = doc.loaded
        self.checkpoint = loaded.checkpoint
        self.graph = loaded.graph
        self._reader = None             # opened and used on the lane only
        super().__init__(f"Save {self.checkpoint.name} as…",
                         default_destination(self.checkpoint.prefix, "edited"), parent)
        self.rename_map_path: str | None = None

        form = QFormLayout()
        rename_row = QHBoxLayout()
        self.rename = QLineEdit()
        self.rename.setPlaceholderText("PATTERN=REPLACEMENT, e.g. ^conv=encoder/conv")
        self.rename.setToolTip("A regular-expression substitution on every key (Python's re.sub; "
                               r"\1 refers to a group)")
        self.rename.textChanged.connect(lambda _t: self.replan())
        self.map_button = QPushButton("Mapping file…")
        self.map_button.setToolTip("Rename by a file: JSON {old: new}, or lines 'OLD NEW'")
        self.map_button.clicked.connect(self._choose_map)
        rename_row.addWidget(self.rename, 1)
        rename_row.addWidget(self.map_button)
        form.addRow("Rename:", rename_row)
        self.cast = QComboBox()
        self.cast.addItem("keep types", None)
        for target in edit.CAST_TARGETS:
            self.cast.addItem(f"floats → {target}", target)
        self.cast.setToolTip("Cast floating variables (rounding to nearest even, as tf.cast)")
        self.cast.currentIndexChanged.connect(lambda _i: self.replan(at_once=True))
        self.strip = QCheckBox("Strip optimizer state")
        self.strip.setToolTip("Drop the optimizer's slots (Adam's m and v, momentum…) and beta "
                              "powers; step counters stay")
        self.strip.toggled.connect(lambda _c: self.replan(at_once=True))
        self.cast.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        form.addRow("Cast:", self.cast)
        form.addRow("Optimizer:", self.strip)
        self.body.addLayout(form)

        self.model = PlanModel(self)
        self.model.toggled.connect(lambda _k, _keep: self.replan(at_once=True))
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        self.body.addWidget(self.table, 1)
        self.resize(980, 640)
        self.replan(at_once=True)

    def _editables(self):
        return [self.rename, self.map_button, self.cast, self.strip, self.table]

    def _previews(self):
        return [self.table]

    def spec(self) -> edit.EditSpec:
        """What the controls ask for (ValueError: the rename field cannot be read)."""
        spec = edit.EditSpec(strip_optimizer=self.strip.isChecked(), cast=self.cast.currentData())
        spec.drop = [f"^{re.escape(k)}$" for k in sorted(self.model.unchecked)]
        if self.rename_map_path is None:
            rename = parse_rename(self.rename.text())
            if rename:
                spec.renames.append(rename)
        return spec

    def _plan_now(self) -> None:
        try:
            self._spec = self.spec()       # read on this thread, used on the lane
        except ValueError as e:            # no plan for a half-typed pattern: say what is wrong
            self._timer.stop()
            if self._writing is None:
                self.lane.cancel()         # a plan still on its way would hide the message
            self._plan_failed(str(e), "")
            return
        super()._plan_now()

    def _make_plan(self, job) -> edit.Plan:
        spec = self._spec
        if self._reader is None:
            self._reader = open_checkpoint(self.checkpoint)
        if self.rename_map_path is not None:
            spec.rename_map = edit.read_rename_map(self.rename_map_path)
        return edit.plan_edit(self._reader, spec, self.graph)

    def _show_plan(self, plan: edit.Plan) -> None:
        first = self.model.rowCount() == 0
        scroll = self.table.verticalScrollBar().value()
        self.model.set_plan(plan)
        self.table.verticalScrollBar().setValue(scroll)
        # New names, casts and sizes change widths: fit them each time, the names capped
        for col in range(self.model.columnCount() - 1):
            if first or col > 0:
                self.table.resizeColumnToContents(col)
            if col < 2 and self.table.columnWidth(col) > 360:
                self.table.setColumnWidth(col, 360)

    def _choose_map(self) -> None:
        if self.rename_map_path is not None:      # the button clears the file
            self._set_map(None)
            return
        path, _ = QFileDialog.getOpenFileName(self, "Rename by a mapping file",
                                              os.path.dirname(self.checkpoint.prefix),
                                              "Mapping files (*.json *.txt *.map);;All files (*)")
        if path:
            self._set_map(path)

    def _set_map(self, path: str | None) -> None:
        """Rename by this mapping file (None: by the pattern field again)."""
        self.rename_map_path = path
        self.rename.setEnabled(path is None)
        if path is None:
            self.rename.setText("")
            self.rename.setPlaceholderText("PATTERN=REPLACEMENT, e.g. ^conv=encoder/conv")
            self.map_button.setText("Mapping file…")
        else:
            self.rename.blockSignals(True)
            self.rename.setText("")
            self.rename.blockSignals(False)
            self.rename.setPlaceholderText(f"by the mapping file {path}")
            self.map_button.setText("Clear mapping file")
        self.replan(at_once=True)

    def _close_readers(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# -- Average checkpoints… ------------------------------------------------------------------

class AverageDialog(_WriteDialog):
    """The mean of some of the run's checkpoints (floating variables; the rest from the
    newest chosen)."""

    def __init__(self, doc, parent=None):
        model = doc.loaded.model
        self.model = model
        self.checkpoints = [c for c in model.checkpoints if c.on_disk]
        self._readers: dict[str, object] = {}      # prefix → reader, used on the lane only
        n = min(5, len(self.checkpoints))
        self._proposed = self._propose(self.checkpoints[-n:])
        super().__init__("Average checkpoints", self._proposed, parent)
        top = QHBoxLayout()
        top.addWidget(QLabel("Average the last"))
        self.last = QSpinBox()
        self.last.setRange(2, len(self.checkpoints))
        self.last.setValue(n)
        self.last.valueChanged.connect(self._check_last)
        top.addWidget(self.last)
        top.addWidget(QLabel("checkpoints, or tick the ones to average:"))
        top.addStretch(1)
        self.body.addLayout(top)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Step", "Checkpoint", "Size"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        for c in self.checkpoints:
            item = QTreeWidgetItem(["" if c.step is None else str(c.step), c.name, human_bytes(c.size)])
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(0, Qt.Unchecked)
            item.setTextAlignment(0, Qt.AlignRight | Qt.AlignVCenter)
            item.setTextAlignment(2, Qt.AlignRight | Qt.AlignVCenter)
            item.setToolTip(1, c.prefix)
            self.list.addTopLevelItem(item)
        for col in range(3):
            self.list.resizeColumnToContents(col)
        self.list.header().setSectionResizeMode(1, QHeaderView.Stretch)
        self.list.itemChanged.connect(lambda _i, _c: self._chosen_changed())
        self.body.addWidget(self.list, 1)
        self._check_last(n)
        self.resize(720, 460)

    def _editables(self):
        return [self.last, self.list]

    @staticmethod
    def _propose(chosen) -> str:
        newest = chosen[-1]
        return default_destination(newest.prefix, "averaged", f"{newest.name}-avg{len(chosen)}")

    def chosen(self) -> list:
        return [c for i, c in enumerate(self.checkpoints)
                if self.list.topLevelItem(i).checkState(0) == Qt.Checked]

    def _check_last(self, n: int) -> None:
        """Tick exactly the last n."""
        self.list.blockSignals(True)
        total = len(self.checkpoints)
        for i in range(total):
            self.list.topLevelItem(i).setCheckState(0, Qt.Checked if i >= total - n else Qt.Unchecked)
        self.list.blockSignals(False)
        self._chosen_changed()

    def _chosen_changed(self) -> None:
        chosen = self.chosen()
        total = len(self.checkpoints)
        last = len(chosen) >= 2 and chosen == self.checkpoints[total - len(chosen):]
        if last and self.last.value() != len(chosen):
            self.last.blockSignals(True)
            self.last.setValue(len(chosen))
            self.last.blockSignals(False)
        # the proposed name follows the choice until the user types one
        if len(chosen) >= 2 and self.destination.text() == self._proposed:
            self._proposed = self._propose(chosen)
            self.destination.setText(self._proposed)
        self.replan(at_once=True)

    def _plan_now(self) -> None:
        self._chosen_now = self.chosen()
        super()._plan_now()

    def _make_plan(self, job) -> edit.Plan:
        chosen = self._chosen_now
        if len(chosen) < 2:
            raise edit.PlanError("Tick at least two checkpoints to average")
        for prefix in [p for p in self._readers if p not in {c.prefix for c in chosen}]:
            self._readers.pop(prefix).close()
        readers = []
        for c in chosen:
            if c.prefix not in self._readers:
                self._readers[c.prefix] = open_checkpoint(c)
            readers.append(self._readers[c.prefix])
        note = None
        try:
            graphs = load_graphs(self.model, chosen[-1])
        except FormatError as e:
            graphs, note = [], f"{e}; the result gets no graph"
        plan = edit.plan_average(readers, graphs[0] if graphs else None)
        plan.notes.insert(0, "averaging " + ", ".join(c.name for c in chosen))
        if note:
            plan.notes.append(note)
        return plan

    def _close_readers(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()
