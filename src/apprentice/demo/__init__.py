"""The built-in demos: drawings and cartoons made in code, trained on and applied through the core like a user would.

Beside the core, not in it: nothing in the core imports this package.
"""
