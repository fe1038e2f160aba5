"""Pure analysis over the readers: statistics, histograms, comparisons. No Qt, no TensorFlow."""
