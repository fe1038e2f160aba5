"""Pure readers for TensorFlow's model files.

Nothing in this package imports Qt or TensorFlow: only the standard library, numpy,
protobuf and the message classes that ship with the tensorboard package.
"""
