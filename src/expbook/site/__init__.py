"""Rendering the site: the book, its pages and their escaping, releases, compare pages, status."""
