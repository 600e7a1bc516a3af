"""Apprentice: train small models on your own art to take over the repetitive steps of your craft."""

__version__ = "0.1.0"
