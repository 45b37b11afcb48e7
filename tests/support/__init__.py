"""Helpers shared by the test tiers (importable because pytest puts ``tests/`` on the path: see pyproject).

Tests import helpers from here, never from one another, so any test file runs alone and in any order.
"""
