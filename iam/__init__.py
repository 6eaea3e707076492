"""Identity and access: users, groups, role templates, roles, bindings and the scope permission engine."""
