"""End-to-end studies built from globelens' public parts.

- :mod:`globelens.experiments.nofilter`: the No Filter study behind ``globelens demo``.
"""
