"""The test suite: the package's specification, written as properties."""
