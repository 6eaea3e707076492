"""The app store's console pages (``edgeplatform.console``): the catalog and the review queue (``catalog``), the
deploy form (``deploy``), a deployment's live progress and topology picture (``progress``) and what they share
(``common``). The kinds' list and object pages are ``appstore.admin``."""
