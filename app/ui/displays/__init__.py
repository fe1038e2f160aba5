"""Displays: one way of showing data (a table, a histogram, a heatmap…), each saying how
well it fits the data at hand. The value and trend panels are tabs of the displays that fit.
"""
