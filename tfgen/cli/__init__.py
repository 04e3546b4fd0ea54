"""The command line: click only. Each command converts its options, calls one function of a lower layer and exits."""
