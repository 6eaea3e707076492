"""The app store: Application, ApplicationVersion, ApplicationDeployment and provisioner plugins (DESIGN §7)."""
