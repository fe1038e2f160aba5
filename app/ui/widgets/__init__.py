"""Widgets shared by the value and trend panels: labels, the message-or-content page, the
themed plots, the heatmap with its colour bar, the copyable table, the bins spin box."""
