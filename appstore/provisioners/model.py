"""The ``model``provisioner."""
from appstore.provisioners import register
from appstore.provisioners.base import Provisioner


@register
class ModelProvisioner(Provisioner):
    """Provisions ``modelConfig``."""

    type, config_key = "model", "modelConfig"
