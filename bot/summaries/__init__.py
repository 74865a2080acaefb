"""The summary in formats that need a library to make: the PDF."""
