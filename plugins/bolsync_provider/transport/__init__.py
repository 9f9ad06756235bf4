"""One HTTP call: session, rate budget, bearer token, retries, and the one status -> typed error mapping."""
