"""Starling's machine learning: a Monte Carlo dropout CNN trained on vote counts, and acquisition.

Importable without Django. Importing this package loads nothing heavy: TensorFlow is imported by
the modules that need it (layers, model, losses, data, training, scoring, registry), never by
`synthetic` or `acquisition`, which are NumPy only.
"""
