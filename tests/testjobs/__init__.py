"""Jobs written for the tests: each fails or behaves in one documented way on purpose."""
