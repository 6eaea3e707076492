"""Signals between apps about scopes, sent inside the transaction that changes them."""
from django.dispatch import Signal

#: a scope object was deleted; kwargs: ``path`` (everything at or below it is gone)
scope_deleted = Signal()
#: a scope object is about to be deleted (inside its delete, before the row goes); kwargs: ``path``. Objects other
#: apps keep in it go through the write path here (a StatusError refuses the delete)
scope_deleting = Signal()
#: a scope object moved; kwargs: ``old_path``, ``new_path`` (objects below it moved too)
scope_moved = Signal()
#: a user created a scope object; kwargs: ``path``, ``creator`` (the creator becomes its admin)
scope_created = Signal()
