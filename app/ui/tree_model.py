"""A lazy item model over a scope tree (formats.graph.Scope).

Children lists are sorted and cached the first time a scope is expanded, so a 95k-op graph
opens at once; rows a scope builds on demand (a call op's function, the function library:
`Scope.lazy`) are built then too. A filter (substring or regex, on names or op types) keeps
the matches and their ancestors; it is computed over the names in one pass and the model
reset once. It looks into the function library, not into call sites (which may recurse).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt

from .roles import ALIGN, DISPLAY, TOOLTIP, USER

from ..analysis.function_tree import LIBRARY
from ..formats.graph import Scope

COLUMNS = ("Name", "Op", "Ops", "Params")


def _searched_path(scope: Scope) -> str:
    """What a filter matches: the path, without the library branch's own name (a filter
    for "library" should not match every op of every function)."""
    path = scope.path
    return path[len(LIBRARY) + 1:] if path.startswith(LIBRARY + "/") else path


def _only_calls_below(scope: Scope) -> bool:
    """An op's row whose children are only the functions it calls (not ops named below it)."""
    first = next(iter(scope.children.values()), None)
    return first is not None and first.calls is not None and all(
        c.calls is not None for c in scope.children.values())


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class ScopeTreeModel(QAbstractItemModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._root: Scope | None = None
        self._op_type = lambda s: ""      # scope → its Op column ("" in the variables tree)
        self._kids: dict[int, list[Scope]] = {}
        self._row: dict[int, int] = {}
        self._visible: set[int] | None = None  # ids of scopes kept by the filter
        self._leaves = "Ops"

    # -- content ----------------------------------------------------------------------

    def set_tree(self, root: Scope | None, op_type=None) -> None:
        """`op_type(scope)` names a row's op (or what a function row is); without it the
        leaves are tensors (the tree of a checkpoint's variable names) and the count column
        counts tensors."""
        self.beginResetModel()
        self._root = root
        self._op_type = op_type or (lambda s: "")
        self._leaves = "Ops" if op_type else "Tensors"
        self._kids.clear()
        self._row.clear()
        self._visible = None
        self.endResetModel()

    def set_filter(self, text: str, regex: bool = False) -> int | None:
        """Keep scopes whose name (or op type) matches, with their ancestors. Returns the
        number of matches, or None for no filter. Raises re.error for a bad regex."""
        if not text:
            visible = None
        else:
            pattern = re.compile(text if regex else re.escape(text), re.IGNORECASE)
            visible = set()
            matches = 0
            stack = [self._root] if self._root is not None else []
            while stack:
                scope = stack.pop()
                stack.extend((scope.expand() if scope.searched else scope.children).values())
                hit = scope is not self._root and (
                    pattern.search(_searched_path(scope)) is not None
                    or (scope.op is not None and pattern.search(self._op_type(scope) or "")))
                if hit:
                    matches += 1
                    node = scope
                    while node is not None and id(node) not in visible:
                        visible.add(id(node))
                        node = node.parent
        self.beginResetModel()
        self._visible = visible
        self._kids.clear()
        self._row.clear()
        self.endResetModel()
        return None if visible is None else matches

    @property
    def filtering(self) -> bool:
        return self._visible is not None

    def _children(self, scope: Scope) -> list[Scope]:
        kids = self._kids.get(id(scope))
        if kids is None:
            kids = sorted(scope.expand().values(), key=lambda s: (s.rank, _natural_key(s.name)))
            if self._visible is not None:
                kids = [k for k in kids if id(k) in self._visible]
            for row, kid in enumerate(kids):
                self._row[id(kid)] = row
            self._kids[id(scope)] = kids
        return kids

    def scope(self, index: QModelIndex) -> Scope | None:
        return index.internalPointer() if index.isValid() else None

    def index_of(self, path: str) -> QModelIndex:
        """The index of a scope by its full path (building parents' rows on the way)."""
        if self._root is None:
            return QModelIndex()
        scope, index = self._root, QModelIndex()
        for part in path.split("/"):
            self._children(scope)
            child = scope.children.get(part)
            if child is None:
                return QModelIndex()
            if self._visible is not None and id(child) not in self._visible:
                return QModelIndex()
            index = self.index(self._row[id(child)], 0, index)
            scope = child
        return index

    # -- QAbstractItemModel ------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if self._root is None or column < 0 or column >= len(COLUMNS):
            return QModelIndex()
        scope = parent.internalPointer() if parent.isValid() else self._root
        kids = self._children(scope)
        if not 0 <= row < len(kids):
            return QModelIndex()
        return self.createIndex(row, column, kids[row])

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        scope: Scope = index.internalPointer()
        parent = scope.parent
        if parent is None or parent is self._root:
            return QModelIndex()
        if id(parent) not in self._row:
            self._children(parent.parent)
        return self.createIndex(self._row[id(parent)], 0, parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if self._root is None or parent.column() > 0:
            return 0
        scope = parent.internalPointer() if parent.isValid() else self._root
        if not scope.expandable:
            return 0
        return len(self._children(scope))

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:
        if self._root is None or parent.column() > 0:
            return False
        scope = parent.internalPointer() if parent.isValid() else self._root
        if not scope.expandable:
            return False
        # Unfiltered, a lazy row says it has children without building them.
        return self._visible is None or bool(self._children(scope))

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Horizontal and role == DISPLAY and 0 <= section < len(COLUMNS):
            return self._leaves if section == 2 else COLUMNS[section]
        if orientation == Qt.Horizontal and role == TOOLTIP and 0 <= section < len(COLUMNS):
            return ("Name scope or op", "Op type", f"{self._leaves} at or below",
                    "Variable elements at or below")[section]
        return None

    def data(self, index: QModelIndex, role=DISPLAY):
        if not index.isValid():
            return None
        scope: Scope = index.internalPointer()
        col = index.column()
        if role == DISPLAY:
            if col == 0:
                return scope.name
            if col == 1:
                return self._op_type(scope)
            if col == 2:
                if scope.op is not None and (scope.call_ops or scope.lazy is not None
                                             or _only_calls_below(scope)):
                    # a call op: the ops of what it calls (none when it is missing)
                    return f"{scope.call_ops:,}" if scope.call_ops else ""
                if scope.calls is not None:
                    return f"{scope.op_count:,}" if scope.op_count else ""
                return f"{scope.op_count:,}" if scope.expandable else ""
            if col == 3:
                return f"{scope.params:,}" if scope.params else ""
        elif role == TOOLTIP and col == 0:
            return scope.path
        elif role == TOOLTIP and col == 2 and scope.call_ops:
            return "Ops in the body of the function(s) this op calls"
        elif role == ALIGN and col >= 2:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        elif role == USER:
            return scope.path
        return None

    def flags(self, index: QModelIndex):
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable
