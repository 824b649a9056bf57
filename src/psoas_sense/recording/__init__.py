"""Recordings: format v1 reader and writer, importers of other formats."""
