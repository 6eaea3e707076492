"""The names every app shares: the label and annotation keys of REFERENCE-API, and the DNS-1123 name patterns.

Object names are DNS-1123 labels or subdomains (DESIGN §2), as Kubernetes defines them. The patterns are written
in the syntax Python's ``re`` and kube-apiserver's RE2 read alike (no look-arounds, ASCII classes only), because
they go into the CRDs' schemas too. ``*_BODY`` are the bare patterns, to build others from; the anchored ones
(``^…$``) validate a whole value.

The labels are the ones several apps read or write. A label only one app knows stays in that app.
"""
from __future__ import annotations

import re

__all__ = [
    "CLUSTER_LABEL", "CLUSTER_ROLE_LABEL", "DESCRIPTION_ANNOTATION", "DISPLAY_NAME_ANNOTATION", "DNS1123_LABEL",
    "DNS1123_LABEL_BODY", "DNS1123_LABEL_MAX", "DNS1123_LABEL_PATTERN", "DNS1123_SUBDOMAIN", "DNS1123_SUBDOMAIN_BODY",
    "DNS1123_SUBDOMAIN_MAX", "DNS1123_SUBDOMAIN_PATTERN", "NAME_IN_URL", "NODEGROUP_LABEL",
    "OPTIONAL_DNS1123_LABEL_PATTERN", "OPTIONAL_DNS1123_SUBDOMAIN_PATTERN", "SCOPE_LABEL", "SCOPE_VALUE_LABEL",
    "WORKSPACE_LABEL",
]

# --- name patterns ----------------------------------------------------------------------------------------------

#: One DNS-1123 label: lowercase letters, digits and ``-``, starting and ending with a letter or digit.
DNS1123_LABEL_BODY = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#: A DNS-1123 subdomain: labels joined by dots.
DNS1123_SUBDOMAIN_BODY = rf"{DNS1123_LABEL_BODY}(\.{DNS1123_LABEL_BODY})*"
DNS1123_LABEL_PATTERN = rf"^{DNS1123_LABEL_BODY}$"
DNS1123_SUBDOMAIN_PATTERN = rf"^{DNS1123_SUBDOMAIN_BODY}$"
#: The same, or blank ("not set", the reference's Go zero value).
OPTIONAL_DNS1123_LABEL_PATTERN = rf"^({DNS1123_LABEL_BODY})?$"
OPTIONAL_DNS1123_SUBDOMAIN_PATTERN = rf"^({DNS1123_SUBDOMAIN_BODY})?$"
DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_PATTERN)
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
#: What the API's URLs take as an object's name (a label or a subdomain); the converter then checks the kind's own
#: pattern, so a bad name is a 422 naming ``metadata.name`` rather than a 404.
NAME_IN_URL = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"

# --- labels and annotations -------------------------------------------------------------------------------------

#: The cluster an object lives in, where names repeat across clusters (workspaces, node groups; the scope of a
#: role or binding at namespace or node level).
CLUSTER_LABEL = "scope.theriseunion.io/cluster"
#: ``host`` or ``member``: the cluster's role in the fleet.
CLUSTER_ROLE_LABEL = "cluster.theriseunion.io/role"
#: The workspace a namespace (or an application) belongs to.
WORKSPACE_LABEL = "theriseunion.io/workspace"
#: The node group a node belongs to.
NODEGROUP_LABEL = "theriseunion.io/nodegroup"
#: The scope level of a role, binding or role template (platform, cluster, workspace, …) …
SCOPE_LABEL = "iam.theriseunion.io/scope"
#: … and the name of the scope object (``global`` for the platform).
SCOPE_VALUE_LABEL = "iam.theriseunion.io/scope-value"
DISPLAY_NAME_ANNOTATION = "theriseunion.io/display-name"
DESCRIPTION_ANNOTATION = "theriseunion.io/description"
