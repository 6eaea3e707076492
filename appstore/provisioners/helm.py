"""The ``helm``provisioner."""
from appstore.provisioners import register
from appstore.provisioners.base import Provisioner


@register
class HelmProvisioner(Provisioner):
    """Provisions ``helmConfig``."""

    type, config_key = "helm", "helmConfig"
