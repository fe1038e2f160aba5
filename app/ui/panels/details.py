"""Details of the current item: an op's attributes, inputs and consumers (as links that
select them), a scope's contents; before anything is selected, what the graph is."""

from __future__ import annotations

from PySide6.QtWidgets import QTextBrowser

from ...analysis import function_tree
from ...analysis.graph_io import likely_inputs, likely_outputs
from ...document import Document, Selection
from .. import details as pages
from .. import keras_layers

ORIGIN = "details"


class DetailsPanel(QTextBrowser):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._link_clicked)
        self.document().setDefaultStyleSheet(pages.STYLE)
        doc.opened.connect(lambda _l: self.show_overview())
        doc.graph_changed.connect(lambda _l: self.show_overview())
        doc.selection_changed.connect(self._follow)

    def show_overview(self) -> None:
        loaded = self.doc.loaded
        unreadable = [(t.display_name, t.problem) for t in loaded.tensors.values() if t.problem]
        io = (likely_inputs(loaded.graph), likely_outputs(loaded.graph)) if loaded.graph is not None else ([], [])
        self.setHtml(pages.graph_html(loaded.graph, loaded.model.path, loaded.problems, unreadable, io))

    def _follow(self, selection: Selection) -> None:
        loaded = self.doc.loaded
        if loaded is None:
            return
        if selection.scope is not None:
            layer = keras_layers.layer_of(loaded.reader, selection.scope.path)
            self.setHtml(pages.scope_html(selection.scope, loaded.tree_kind, loaded.graph)
                         + (keras_layers.layer_html(layer) if layer else ""))
        elif selection.op is not None and loaded.graph is not None and loaded.graph.has_op(selection.op):
            self.setHtml(pages.op_html(loaded.graph, selection.op, selection.key))

    def _link_clicked(self, url) -> None:
        text = url.toString()
        if text.startswith(pages.LINK_PREFIX):
            self.doc.select_op(text[len(pages.LINK_PREFIX):], origin=ORIGIN)
        elif text.startswith(pages.RUN_PREFIX):
            self.doc.request_run([text[len(pages.RUN_PREFIX):]])
        elif text.startswith(pages.FUNCTION_PREFIX):
            row = function_tree.library_row(self.doc.loaded.tree, text[len(pages.FUNCTION_PREFIX):])
            if row is not None:
                self.doc.select(Selection(scope=row, origin=ORIGIN))
        elif text.startswith(pages.SIGNATURE_PREFIX):
            self.doc.request_run([], signature=text[len(pages.SIGNATURE_PREFIX):])
