"""Closed forms of adiabatic elimination (docs/model.md §5, §9).

``valley``: the two-variable valley of the seed (one slow, one fast direction).
"""
