"""Clusters and the scope objects inside them: workspaces, node groups, namespaces, nodes."""
