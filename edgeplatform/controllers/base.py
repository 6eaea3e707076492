"""A controller: a kind's reconcile as a list of idempotent ``ensure_*`` steps, and the registry of controllers.

::

    @register
    class WidgetController(Controller):
        name = "widgets"                     # audit actor system:widgets, metric label, state key
        model = Widget
        steps = ("ensure_config", "ensure_release")
        queue = "deploy"
        period = 600                         # reconcile again 10 minutes after the last success
        sort = "component"                   # at most EDGE_CONTROLLER_CONCURRENCY["component"] per cluster

        def ensure_config(self, obj, run): ...
        def ensure_release(self, obj, run): ...

A step returns when its part is in the desired state, raises ``TemporaryError`` to be retried later, or
``PermanentError`` when only a spec change can help (see :mod:`edgeplatform.controllers.engine`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

__all__ = ["Controller", "Run", "controllers", "get", "register"]

_registry: dict[str, Controller] = {}


@dataclass
class Run:
    """One attempt, handed to every step: the options the task was queued with, and what the steps leave:
    ``result`` (returned by the task), for a success that is worth a word, ``reason`` and ``message``, and
    ``status``: fields of the kind's own status (``phase``, …) written with the base's fields at the end of the
    attempt, whatever its outcome (one status write per attempt); ``conditions``: conditions of the kind's own
    (``Reachable``, …) set beside the controller's (``status.condition``), whatever the outcome; ``deleted``: a
    step removed the object (its deletion finished), so no status is written and its state row goes."""

    controller: Controller
    key: str
    owner: str
    options: dict = field(default_factory=dict)
    result: object = None
    reason: str = ""
    message: str = ""
    status: dict = field(default_factory=dict)
    conditions: list = field(default_factory=list)
    deleted: bool = False


class Controller:
    """Base class of every controller. Subclasses set the class attributes and write the steps."""

    #: the controller's name: its audit actor is ``system:<name>``
    name: str = ""
    #: the model whose rows it reconciles (the key is the primary key); or override :meth:`load` and :meth:`keys`
    model = None
    #: names of the methods run in order, each ``step(obj, run)``
    steps: tuple[str, ...] = ()
    #: the Celery queue its tasks go to (``CELERY_TASK_ROUTES`` may send them elsewhere)
    queue: str = "default"
    #: seconds after a successful reconcile when beat queues the next (None: only when the generation moves)
    period: float | None = None
    #: the setting that holds ``period`` instead (read at each use, so an override applies at once)
    period_setting: str = ""
    #: the concurrency limit that applies per member cluster (a key of ``EDGE_CONTROLLER_CONCURRENCY``)
    sort: str | None = None
    #: the condition it writes; ``Ready`` means it owns the kind's status (observedGeneration, step, retries)
    condition: str = "Ready"
    #: whether it writes a status at all (False: its state is kept only in its own table)
    writes_status: bool = True

    def __init_subclass__(cls, **kwargs):
        """A subclass that names ``period_setting`` reads its ``period`` from that setting."""
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("period_setting")
        if name:
            cls.period = property(lambda self: getattr(settings, name),
                                  doc=f"Seconds between two reconciles of an object (``{name}``).")

    def load(self, key: str):
        """The object with this key, re-read (None when gone)."""
        return self.model.objects.filter(pk=key).first()

    def keys(self):
        """Every object it is responsible for, as ``(key, generation)`` pairs (for beat)."""
        return self.model.objects.values_list("pk", "generation").iterator()

    def generation_of(self, obj) -> int:
        """The object's spec generation."""
        return getattr(obj, "generation", 0) or 0

    def cluster_of(self, obj) -> str | None:
        """The member cluster the object's work happens on (for the per-cluster limit)."""
        cluster = getattr(obj, "cluster", None)
        return getattr(cluster, "name", None)

    def __repr__(self) -> str:
        return f"<controller {self.name}>"


def register(controller_class: type[Controller]) -> Controller:
    """Register a controller class (a decorator); returns its one instance."""
    instance = controller_class()
    if not instance.name or not instance.steps:
        raise ValueError(f"{controller_class.__name__} needs a name and steps")
    _registry[instance.name] = instance
    return instance


def get(name: str) -> Controller:
    """The registered controller of that name."""
    return _registry[name]


def controllers() -> list[Controller]:
    """Every registered controller."""
    return list(_registry.values())
