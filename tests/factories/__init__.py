"""factory_boy factories for every kind with a model: ``build`` gives the manifest the API takes, ``create`` stores
it through the platform's write path (``tests.factories.base``)."""
from tests.factories.appstore import (
    AppCategoryFactory,
    ApplicationDeploymentFactory,
    ApplicationFactory,
    ApplicationVersionFactory,
)
from tests.factories.base import PASSWORD, ManifestFactory, scope_labels
from tests.factories.clusters import (
    ClusterFactory,
    NamespaceFactory,
    NodeFactory,
    NodeGroupFactory,
    WorkspaceFactory,
)
from tests.factories.components import ComponentFactory
from tests.factories.iam import (
    CategoryFactory,
    GroupFactory,
    IAMRoleBindingFactory,
    IAMRoleFactory,
    RoleTemplateFactory,
    UserFactory,
    rule,
)

__all__ = [
    "PASSWORD",
    "AppCategoryFactory",
    "ApplicationDeploymentFactory",
    "ApplicationFactory",
    "ApplicationVersionFactory",
    "CategoryFactory",
    "ClusterFactory",
    "ComponentFactory",
    "GroupFactory",
    "IAMRoleBindingFactory",
    "IAMRoleFactory",
    "ManifestFactory",
    "NamespaceFactory",
    "NodeFactory",
    "NodeGroupFactory",
    "RoleTemplateFactory",
    "UserFactory",
    "WorkspaceFactory",
    "rule",
    "scope_labels",
]
