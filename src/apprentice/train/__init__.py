"""The generic training loop: gather consented examples, sample patches, optimise, validate, checkpoint."""
