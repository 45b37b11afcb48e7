"""The foundation every stage stands on: errors, locations and the package version.

In: nothing from the project (only the standard library and environment variables such as ``VQR_ROOT``).
Out: :class:`~vqr_analysis.core.errors.VqrError` (one ``error:`` line for things a user can fix), the
project's folders (:mod:`~vqr_analysis.core.paths`) and ``__version__``. Nothing here imports another stage.
"""
