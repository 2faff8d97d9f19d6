"""The ``neuronmf`` command line: thin commands over the public functions."""
