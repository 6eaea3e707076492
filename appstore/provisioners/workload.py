"""The ``workload``provisioner."""
from appstore.provisioners import register
from appstore.provisioners.base import Provisioner


@register
class WorkloadProvisioner(Provisioner):
    """Provisions ``workloadConfig``."""

    type, config_key = "workload", "workloadConfig"
