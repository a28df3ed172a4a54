"""mnaslib: a reproduction of MnasNet."""
