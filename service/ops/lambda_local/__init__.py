"""The local Lambda, in one home: the events each door hands a function (`events`), the
runtime's Python beside an unzipped package (`runtime`), and the Runtime API a container
image's entry point speaks (`runtime_api`). `make package`'s checks (deploy/) and the
benchmarks (stress_test/) both run functions through it."""
