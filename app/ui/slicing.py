"""The 2-D slice of an n-D array that the table and the heatmap show: two axes as rows and
columns, every other axis held at an index. Pure (numpy only); views, never copies."""

from __future__ import annotations


def slice_2d(array, row_axis: int, col_axis: int, indices):
    """The slice as a view (rows × columns); rank 0 → 1×1, rank 1 → n×1."""
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array[:, None]
    key = tuple(slice(None) if ax in (row_axis, col_axis) else i
                for ax, i in enumerate(indices))
    view = array[key]
    return view.T if row_axis > col_axis else view


def element_index(rank: int, row_axis: int, col_axis: int, indices, row: int,
                  col: int) -> tuple[int, ...]:
    """The array index of cell (row, col) of the slice."""
    if rank == 0:
        return ()
    if rank == 1:
        return (row,)
    idx = list(indices)
    idx[row_axis] = row
    idx[col_axis] = col
    return tuple(idx)
