"""Apprentice inside Krita: a docker that teaches, trains and applies your apprentices through `apprentice serve`.

Inside Krita the docker is registered; elsewhere (the tests) only the pure modules are used.
"""

try:
    import krita  # noqa: F401 (only Krita's own Python has it)

    from .qt import BINDING
except ImportError:  # outside Krita, or a Krita without PyQt
    BINDING = None

if BINDING is not None:
    from .docker import register

    register()
