"""Real services for tests: a throwaway PostgreSQL (`postgres`) and the project's Kafka
broker on a dedicated test port (`kafka`). tests/conftest.py turns them into fixtures."""
