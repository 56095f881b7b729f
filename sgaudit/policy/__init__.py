"""Reading and validating the policy: options, cluster arguments and dask config, each value
with the file and line it came from."""
