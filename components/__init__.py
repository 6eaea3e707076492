"""Declarative Helm components and chart repositories (DESIGN §8)."""
