"""Load scenarios, benchmarks and hit-rate reports for predcache."""
