"""The cases behind scripts/make_torch_golden.py, one file per kind."""
