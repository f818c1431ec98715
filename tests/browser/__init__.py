"""Browser tests (a package, so this folder's conftest never shadows another folder's `conftest` module)."""
