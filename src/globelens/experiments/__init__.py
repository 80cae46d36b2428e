"""End-to-end studies built from globelens' public parts.

- :mod:`globelens.experiments.study`: the study's folder, log, stage registry and runner.
- :mod:`globelens.experiments.nofilter`: the No Filter study behind ``globelens demo`` (act
  one), with act two (:mod:`globelens.experiments.generative_act`) and the languages pack
  (:mod:`globelens.experiments.languages_study`) registered beside it.
"""
