"""Renderers: a job catalog in, manifests or unit files out."""
