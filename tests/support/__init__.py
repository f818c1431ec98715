"""Helpers the test layers share, importable from any folder: `from tests.support.web import bearer`.

Fixtures stay in the conftest files; plain functions and classes live here, so that any subset
of test folders can be collected together (pytest tests/unit tests/e2e, tests/e2e tests/integration).
"""
