"""Settings, read from the environment (twelve-factor).

The defaults run on one machine with no servers: SQLite, a filesystem Celery
broker and an in-process cache. `DATABASE_URL` switches to PostgreSQL and
`REDIS_URL` to Redis for the cache and the broker.

Apps are wired in by name only (INSTALLED_APPS, backends, middleware, tasks):
nothing here imports an app, so that the project depends on no app's code.
"""
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from edgeplatform.controllers import queues as _queues
from edgeplatform.login_settings import ldap_settings, oidc_settings
from edgeplatform.serving.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("EDGE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _secret_key() -> str:
    """A configured key, or one generated once and kept under var/ (never a shipped default)."""
    configured = env.str("SECRET_KEY", default="")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

# Metrics of several processes (web, workers): each writes its figures to files in EDGE_METRICS_DIR and /metrics
# adds them up (prometheus_client's multiprocess mode; read when prometheus_client is first imported, so here).
EDGE_METRICS_DIR = env.str("EDGE_METRICS_DIR", default="") or os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if EDGE_METRICS_DIR:
    Path(EDGE_METRICS_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = EDGE_METRICS_DIR
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets for /oapis/docs/ and /oapis/redoc/
    "guardian",
    "axes",
    "edgeplatform",
    "iam",
    "iam.audit",
    "clusters",
    "appstore",
    "components",
    "charts",
]

MIDDLEWARE = [
    # first: the request's id (X-Request-ID) on every log record of the request and on the answer; the access log
    "edgeplatform.serving.requestid.RequestIDMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # API errors in the API's shape (Status / RFC 6749), bodies over EDGE_API_MAX_BODY refused before reading
    "edgeplatform.resources.http_errors.APIErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # the console's stylesheets and scripts, served by the platform itself (no web server in front needed)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # who/where of every audited change (under the request's id); records each refused request once
    "iam.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last before metrics: turns a login refused by the lockout into the lockout answer
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "edgeplatform.urls"
WSGI_APPLICATION = "edgeplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'edgeplatform.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, worker and beat read while one of them writes. A transaction takes the write lock
    # when it begins (IMMEDIATE): one that read first and then wanted to write while another process wrote would
    # fail at once with "database is locked" (SQLite cannot wait there), which several web workers writing at
    # the same time hit; taken at the start, the lock is waited for, up to the timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
         "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["TEST"] = {"NAME": env.str("EDGE_TEST_SQLITE", default=str(VAR_DIR / "test.sqlite3"))}
# Each web worker (and thread) keeps its database connection between requests instead of opening one a request:
# a PostgreSQL connection costs a server process and an authentication, more than an authorized list itself. A
# connection is checked before reuse after an error and dropped after EDGE_DB_CONN_MAX_AGE seconds (0: a
# connection a request).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("EDGE_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("EDGE_CACHE_PREFIX", default="edge"),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "edge"}}

# Django's hashers, plus plain bcrypt: users carried over from the earlier implementation bring
# spec.encryptedPassword (a bcrypt hash); it verifies and is re-hashed the default way at first login.
PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.BCryptPasswordHasher"]
AUTH_USER_MODEL = "iam.User"
AUTHENTICATION_BACKENDS = [
    # first: refuses every login of a locked-out account before any backend checks a password
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "iam.backends.ScopeBackend",
    "iam.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
ANONYMOUS_USER_NAME = None  # guardian: anonymous users get nothing
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves STATIC_ROOT (`manage.py collectstatic`, run by `make run`) and, for a checkout that has not
# collected them, the apps' own static folders.
WHITENOISE_USE_FINDERS = True
CSRF_FAILURE_VIEW = "edgeplatform.resources.http_errors.csrf_failure"
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG and env.bool("EDGE_HTTPS", default=False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("EDGE_HTTPS", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("EDGE_BEHIND_PROXY", default=False) else None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "iam.tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "edgeplatform.resources.parsers.JSONParser",
        "edgeplatform.resources.parsers.MergePatchParser",
        "edgeplatform.resources.parsers.StrategicMergePatchParser",
        "edgeplatform.resources.parsers.ApplyPatchParser",
        "edgeplatform.resources.parsers.YAMLParser",
        "edgeplatform.resources.parsers.XYAMLParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "edgeplatform.resources.errors.status_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # per-user token bucket (edgeplatform/serving/ratelimit.py): EDGE_API_RATE_LIMIT_QPS / _BURST
    "DEFAULT_THROTTLE_CLASSES": ["edgeplatform.serving.ratelimit.UserRateLimit"],
}
# API rate limit per user (seed §5 "rateLimit", there qps 1000, burst 2000): a token bucket in the shared cache (Redis
# with REDIS_URL: one bucket per user across every worker; the in-process cache: one per process). Off by default
# (QPS 0): one user driving the brief's load test above 1,000 requests/s must not be refused. Burst 0: twice the QPS.
EDGE_API_RATE_LIMIT_QPS = env.float("EDGE_API_RATE_LIMIT_QPS", default=0)
EDGE_API_RATE_LIMIT_BURST = env.int("EDGE_API_RATE_LIMIT_BURST", default=0) or max(1, int(2 * EDGE_API_RATE_LIMIT_QPS))
SPECTACULAR_SETTINGS = {
    "TITLE": "Edge Platform API",
    "DESCRIPTION": "Kubernetes-style resources of the Edge Platform control plane. Every body is a manifest "
                   "(apiVersion, kind, metadata, spec, status), every error under /oapis/ a Kubernetes Status, "
                   "every error of /oauth/ an RFC 6749 error object. Log in with a bearer token (POST /oauth/token) "
                   "or a session (/api-auth/login/).",
    "VERSION": "v1alpha1",
    "SERVE_INCLUDE_SCHEMA": False,
    # the manifests' schemas are the CRDs' (edgeplatform.resources.openapi): enums stay where the CRD has them
    "POSTPROCESSING_HOOKS": ["edgeplatform.resources.openapi.add_shared_components"],
    # the docs pages load Swagger UI and ReDoc from the platform (drf-spectacular-sidecar), never from a CDN
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # no validator badge: it would fetch from a public validator service
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "displayOperationId": True,
                            "validatorUrl": None},
}

# Controllers (edgeplatform/controllers, docs/controllers.md): leases, backoff, per-cluster limits, beat.
EDGE_CONTROLLER_LEASE_SECONDS = env.float("EDGE_CONTROLLER_LEASE_SECONDS", default=300)
EDGE_CONTROLLER_BACKOFF = env.float("EDGE_CONTROLLER_BACKOFF", default=5)
EDGE_CONTROLLER_BACKOFF_MAX = env.float("EDGE_CONTROLLER_BACKOFF_MAX", default=600)
EDGE_CONTROLLER_BUSY_DELAY = env.float("EDGE_CONTROLLER_BUSY_DELAY", default=5)
EDGE_CONTROLLER_RETRY_MAX_COUNTDOWN = env.float("EDGE_CONTROLLER_RETRY_MAX_COUNTDOWN", default=300)
EDGE_CONTROLLER_REQUEUE_INTERVAL = env.float("EDGE_CONTROLLER_REQUEUE_INTERVAL", default=60)
EDGE_CONTROLLER_RBAC_PERIOD = env.float("EDGE_CONTROLLER_RBAC_PERIOD", default=600)
# Cluster health (clusters/health.py): every cluster's connection checked on a period, each check one short timeout.
EDGE_CLUSTER_HEALTH_PERIOD = env.float("EDGE_CLUSTER_HEALTH_PERIOD", default=60)  # seconds between checks
EDGE_CLUSTER_HEALTH_TIMEOUT = env.float("EDGE_CLUSTER_HEALTH_TIMEOUT", default=5)  # seconds, one check, no retry
EDGE_CLUSTER_HEARTBEAT_INTERVAL = env.float("EDGE_CLUSTER_HEARTBEAT_INTERVAL", default=300)  # seconds; see README
EDGE_CLUSTER_CREDENTIAL_WARNING_DAYS = env.float("EDGE_CLUSTER_CREDENTIAL_WARNING_DAYS", default=30)
# Virtual clusters (clusters/vcluster.py): the vcluster chart version that still ships each distro (k0s went in
# 0.26.0, k3s in 0.33.0), the values every release starts from, the exported kubeconfig's server ({name},
# {namespace}: the cluster and its host namespace; it must be an address the platform reaches), the poll of a
# provisioning step, and the default components of every cluster (a JSON list of {"name", "spec"} Components).
EDGE_VCLUSTER_CHART_VERSIONS = env.json("EDGE_VCLUSTER_CHART_VERSIONS",
                                        default={"k8s": "0.36.1", "k3s": "0.32.3", "k0s": "0.25.2"})
EDGE_VCLUSTER_VALUES = env.json("EDGE_VCLUSTER_VALUES", default={"controlPlane": {"statefulSet": {"resources": {
    "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "8Gi"},
    "requests": {"cpu": "200m", "memory": "256Mi", "ephemeral-storage": "1Gi"}}}}})
EDGE_VCLUSTER_SERVER = env.str("EDGE_VCLUSTER_SERVER", default="https://{name}.{namespace}.svc:443")
EDGE_VCLUSTER_POLL = env.float("EDGE_VCLUSTER_POLL", default=5)
EDGE_CLUSTER_DEFAULT_COMPONENTS = env.json("EDGE_CLUSTER_DEFAULT_COMPONENTS", default=[])
EDGE_CONTROLLER_RESYNC_PERIOD = env.float("EDGE_CONTROLLER_RESYNC_PERIOD", default=600)
# reconciles of one sort running on one member cluster at once (seed §18.1.3 controller.concurrency)
EDGE_CONTROLLER_CONCURRENCY = {
    "cluster": env.int("EDGE_CONCURRENCY_CLUSTER", default=3),
    "application": env.int("EDGE_CONCURRENCY_APPLICATION", default=5),
    "component": env.int("EDGE_CONCURRENCY_COMPONENT", default=3),
}

# Celery: a broker that needs no server unless REDIS_URL (or CELERY_BROKER_URL) is set.
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    for sub in ("out", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "data_folder_processed": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
    }
CELERY_TASK_ACKS_LATE = True
# workers and beat log through LOGGING (JSON lines, a task's records under its id) instead of Celery's own format
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Slow work on queues of its own (edgeplatform/controllers/queues.py); the settings' routes come first, then a
# controller's own queue. EDGE_CELERY_QUEUES lists the queues a worker started without -Q consumes.
CELERY_TASK_QUEUES = [Queue(name) for name in env.list("EDGE_CELERY_QUEUES", default=list(_queues.QUEUES))]
CELERY_TASK_ROUTES = [_queues.ROUTES, "edgeplatform.controllers.queues.route"]
CELERY_BEAT_SCHEDULE = {
    "iam-prune-grant-changes": {"task": "iam.tasks.prune_grant_changes", "schedule": timedelta(hours=1)},
    "iam-purge-expired-tokens": {"task": "iam.tasks.purge_expired_tokens", "schedule": timedelta(hours=1)},
    "audit-prune": {"task": "iam.audit.tasks.prune", "schedule": timedelta(hours=24)},
    # controllers: every object whose generation is ahead of the one observed, whose retry is due or whose last
    # success is older than its controller's period (native RBAC and the CRD resync: 10 minutes) is queued again
    # expired edge join tokens: their bootstrap token Secrets removed from the members (clusters.join_tokens)
    "clusters-expire-join-tokens": {"task": "clusters.expire_join_tokens", "schedule": timedelta(minutes=10)},
    "controllers-requeue": {"task": "edgeplatform.controllers.requeue",
                            "schedule": timedelta(seconds=EDGE_CONTROLLER_REQUEUE_INTERVAL)},
}

# Authorization engine (seed §5 "authorization": cacheSize, cacheTTL).
EDGE_AUTHZ_CACHE_SIZE = env.int("EDGE_AUTHZ_CACHE_SIZE", default=10000)
EDGE_AUTHZ_CACHE_TTL = env.int("EDGE_AUTHZ_CACHE_TTL", default=300)
EDGE_AUTHZ_POLL_INTERVAL = env.float("EDGE_AUTHZ_POLL_INTERVAL", default=0.25)

# API tokens (seed §5 "authentication.jwt.expire": 24h).
EDGE_TOKEN_TTL = env.int("EDGE_TOKEN_TTL", default=24 * 3600)
EDGE_API_PAGE_SIZE = env.int("EDGE_API_PAGE_SIZE", default=500)

# Audit log: events older than this many days are pruned by the beat task iam.audit.tasks.prune.
EDGE_AUDIT_RETENTION_DAYS = env.int("EDGE_AUDIT_RETENTION_DAYS", default=365)
EDGE_REFRESH_TOKEN_TTL = env.int("EDGE_REFRESH_TOKEN_TTL", default=30 * 24 * 3600)
EDGE_PERSONAL_TOKEN_MAX_TTL = env.int("EDGE_PERSONAL_TOKEN_MAX_TTL", default=0)  # seconds; 0: no upper bound

# Login lockout (django-axes, policy in iam/lockout.py): EDGE_LOCKOUT_FAILURES failed logins, each within
# EDGE_LOCKOUT_WINDOW seconds of the one before, lock the user name for EDGE_LOCKOUT_DURATION seconds.
EDGE_LOCKOUT_FAILURES = env.int("EDGE_LOCKOUT_FAILURES", default=5)
EDGE_LOCKOUT_WINDOW = env.int("EDGE_LOCKOUT_WINDOW", default=15 * 60)
EDGE_LOCKOUT_DURATION = env.int("EDGE_LOCKOUT_DURATION", default=30 * 60)
EDGE_LOCKOUT_BY_IP = env.bool("EDGE_LOCKOUT_BY_IP", default=False)
AXES_ENABLED = env.bool("EDGE_LOCKOUT_ENABLED", default=True)
AXES_HANDLER = "iam.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = "iam.lockout.failure_limit"
AXES_COOLOFF_TIME = "iam.lockout.cool_off"
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]] if EDGE_LOCKOUT_BY_IP else ["username"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lock lasts EDGE_LOCKOUT_DURATION, hammering or not
AXES_LOCKOUT_CALLABLE = "iam.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are recorded by the audit log
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "client_secret", "refresh_token", "token",
                             "csrfmiddlewaretoken"]
AXES_IPWARE_PROXY_COUNT = 1 if env.bool("EDGE_BEHIND_PROXY", default=False) else None
AXES_IPWARE_META_PRECEDENCE_ORDER = (("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
                                     if env.bool("EDGE_BEHIND_PROXY", default=False) else ("REMOTE_ADDR",))

# OpenID Connect login (mozilla-django-oidc): on when a client id and an issuer or explicit endpoints are set.
# LDAP login (django-auth-ldap): on when EDGE_LDAP_URI is set; needs `make setup-ldap`.
_oidc, _ldap = oidc_settings(env), ldap_settings(env)
globals().update(_oidc)
globals().update(_ldap)
if _oidc["OIDC_ENABLED"]:
    AUTHENTICATION_BACKENDS.append("iam.oidc.EdgeOIDCBackend")
if _ldap["EDGE_LDAP_URI"]:
    AUTHENTICATION_BACKENDS.append("iam.ldap.EdgeLDAPBackend")

# Logs (edgeplatform/serving/logs.py): JSON lines on stderr carrying the request id, or text; one access-log record
# per request (logger edgeplatform.access) unless EDGE_ACCESS_LOG is off.
EDGE_LOG_FORMAT = env.str("EDGE_LOG_FORMAT", default="json")
LOGGING = logging_config(EDGE_LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))
EDGE_ACCESS_LOG = env.bool("EDGE_ACCESS_LOG", default=True)

# iam.backends.ObjectPermissionBackend is guardian's backend (a subclass that leaves Kubernetes-spelled
# permissions to the Scope backend); guardian's check only recognises its own class path.
SILENCED_SYSTEM_CHECKS = ["guardian.W001"]
# axes.W006 asks for the client address among the lockout keys; a user name alone is locked on purpose (see
# iam/lockout.py: guessing from many addresses must not get around the limit).
SILENCED_SYSTEM_CHECKS.append("axes.W006")

# Kubernetes gateway (edgeplatform/kube). The host cluster comes from EDGE_KUBECONFIG (with EDGE_KUBE_CONTEXT),
# else from the pod's service account when EDGE_KUBE_IN_CLUSTER and running in a pod; with neither, CRD sync is off.
EDGE_KUBECONFIG = env.str("EDGE_KUBECONFIG", default="")
EDGE_KUBE_CONTEXT = env.str("EDGE_KUBE_CONTEXT", default="")
EDGE_KUBE_IN_CLUSTER = env.bool("EDGE_KUBE_IN_CLUSTER", default=True)
EDGE_KUBE_CONNECT_TIMEOUT = env.float("EDGE_KUBE_CONNECT_TIMEOUT", default=5.0)  # seconds, per request
EDGE_KUBE_READ_TIMEOUT = env.float("EDGE_KUBE_READ_TIMEOUT", default=30.0)  # seconds, per request
EDGE_KUBE_RETRIES = env.int("EDGE_KUBE_RETRIES", default=4)  # extra attempts on connection errors, 5xx and 429
EDGE_KUBE_BACKOFF = env.float("EDGE_KUBE_BACKOFF", default=0.2)  # seconds; full-jitter exponential backoff base
EDGE_KUBE_BACKOFF_MAX = env.float("EDGE_KUBE_BACKOFF_MAX", default=5.0)  # seconds; cap of one backoff delay
EDGE_KUBE_DEADLINE = env.float("EDGE_KUBE_DEADLINE", default=60.0)  # seconds; no retry starts after this
# CRD sync (edgeplatform/kube/sync.py, watch.py): on whenever a host cluster is configured, unless switched off here.
EDGE_CRD_SYNC = env.bool("EDGE_CRD_SYNC", default=True)
EDGE_KUBEWATCH_TIMEOUT = env.int("EDGE_KUBEWATCH_TIMEOUT", default=300)  # seconds one watch request stays open

# Helm (edgeplatform/helm). Its cache, configuration, data and chart cache live under EDGE_HELM_HOME, never in ~.
# EDGE_HELM_ISOLATED runs every Helm call in a spawned subprocess (Helm's Go runtime does not survive fork()).
EDGE_HELM_HOME = env.str("EDGE_HELM_HOME", default=str(VAR_DIR / "helm"))
EDGE_HELM_ISOLATED = env.bool("EDGE_HELM_ISOLATED", default=True)
EDGE_HELM_TIMEOUT = env.int("EDGE_HELM_TIMEOUT", default=300)  # seconds per install/upgrade/rollback/uninstall
EDGE_HELM_REPOSITORY_TIMEOUT = env.float("EDGE_HELM_REPOSITORY_TIMEOUT", default=30.0)  # seconds per HTTP request

# Components (components/controller.py): the per-cluster release sweep (one LIST of Helm's release Secrets) and
# the waits of a reconcile, in seconds.
EDGE_COMPONENT_SWEEP_PERIOD = env.float("EDGE_COMPONENT_SWEEP_PERIOD", default=300)
# seconds between two syncs of a member cluster's nodes and namespaces (clusters.member_sync), and its LIST page
EDGE_CLUSTER_SYNC_PERIOD = env.float("EDGE_CLUSTER_SYNC_PERIOD", default=30)
EDGE_CLUSTER_SYNC_PAGE_SIZE = env.int("EDGE_CLUSTER_SYNC_PAGE_SIZE", default=500)
# workspaces and node groups: their templates kept on the member (seconds between two reconciles)
EDGE_WORKSPACE_PERIOD = env.float("EDGE_WORKSPACE_PERIOD", default=300)
EDGE_NODEGROUP_PERIOD = env.float("EDGE_NODEGROUP_PERIOD", default=300)
# node lifecycle (maintenance, online, decommission): seconds between two checks of a node with a lifecycle set
EDGE_NODE_LIFECYCLE_PERIOD = env.float("EDGE_NODE_LIFECYCLE_PERIOD", default=300)
EDGE_COMPONENT_READY_TIMEOUT = env.float("EDGE_COMPONENT_READY_TIMEOUT", default=600)
EDGE_COMPONENT_READY_POLL = env.float("EDGE_COMPONENT_READY_POLL", default=5)
EDGE_COMPONENT_DEPENDENCY_RETRY = env.float("EDGE_COMPONENT_DEPENDENCY_RETRY", default=10)
EDGE_COMPONENT_CHART_RETRY = env.float("EDGE_COMPONENT_CHART_RETRY", default=60)

# App store: rolling out application deployments (appstore/controller.py); times in seconds.
# clusters one deployment's rollout works on at once (spec.rollout.maxConcurrent overrides it)
EDGE_APPSTORE_ROLLOUT_CONCURRENCY = env.int("EDGE_APPSTORE_ROLLOUT_CONCURRENCY", default=10)
# failed topologies after which a rollout starts no new one; 0: no limit (spec.rollout.maxFailedTopologies)
EDGE_APPSTORE_MAX_FAILED_TOPOLOGIES = env.int("EDGE_APPSTORE_MAX_FAILED_TOPOLOGIES", default=0)
# a failed upgrade goes back to the last version that ran everywhere (spec.rollout.autoRollback)
EDGE_APPSTORE_AUTO_ROLLBACK = env.bool("EDGE_APPSTORE_AUTO_ROLLBACK", default=False)
# wait between two reads of a deployment whose topologies are still progressing
EDGE_APPSTORE_PROGRESS_POLL = env.float("EDGE_APPSTORE_PROGRESS_POLL", default=10)
# how long a topology may progress after its last apply before it counts as Failed
EDGE_APPSTORE_PROGRESS_TIMEOUT = env.float("EDGE_APPSTORE_PROGRESS_TIMEOUT", default=600)
# seconds between two drift checks of a Running deployment (reads only; writes only what drifted)
EDGE_APPSTORE_DRIFT_PERIOD = env.float("EDGE_APPSTORE_DRIFT_PERIOD", default=300)
# the one timeout after which a cluster that does not answer has its topologies marked Unreachable
EDGE_APPSTORE_CLUSTER_TIMEOUT = env.float("EDGE_APPSTORE_CLUSTER_TIMEOUT", default=5)

# Edge runtimes (clusters/edge_runtime.py) and joining edge nodes (clusters/join_tokens.py). Versions are the
# runtime's (and the chart version looked up in the chart repositories); times in seconds.
EDGE_KUBEEDGE_VERSION = env.str("EDGE_KUBEEDGE_VERSION", default="1.20.0")
EDGE_OPENYURT_VERSION = env.str("EDGE_OPENYURT_VERSION", default="1.6.0")
EDGE_RUNTIME_POLL = env.float("EDGE_RUNTIME_POLL", default=10)
EDGE_JOIN_TOKEN_TTL = env.float("EDGE_JOIN_TOKEN_TTL", default=86400)
EDGE_JOIN_TOKEN_MAX_TTL = env.float("EDGE_JOIN_TOKEN_MAX_TTL", default=7 * 86400)
EDGE_JOIN_AUTO_APPROVE = env.bool("EDGE_JOIN_AUTO_APPROVE", default=False)

# Chart repositories (charts/): archives in the "charts" storage, the filesystem under EDGE_CHARTS_DIR by default.
EDGE_CHARTS_DIR = env.str("EDGE_CHARTS_DIR", default=str(VAR_DIR / "charts"))
STORAGES = {
    **global_settings.STORAGES,
    "charts": {"BACKEND": "django.core.files.storage.FileSystemStorage",
               "OPTIONS": {"location": EDGE_CHARTS_DIR, "base_url": None}},
}
# EDGE_CHARTS_STORAGE=s3: archives in an S3-compatible bucket (django-storages' S3 backend, which needs boto3)
EDGE_CHARTS_STORAGE = env.str("EDGE_CHARTS_STORAGE", default="filesystem")
if EDGE_CHARTS_STORAGE == "s3":
    STORAGES["charts"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": env.str("EDGE_CHARTS_S3_BUCKET"),
        "location": env.str("EDGE_CHARTS_S3_PREFIX", default="charts"),
        "endpoint_url": env.str("EDGE_CHARTS_S3_ENDPOINT", default="") or None,  # MinIO, Ceph RGW, …
        "region_name": env.str("EDGE_CHARTS_S3_REGION", default="") or None,
        "access_key": env.str("EDGE_CHARTS_S3_ACCESS_KEY", default="") or None,  # None: boto3's own chain
        "secret_key": env.str("EDGE_CHARTS_S3_SECRET_KEY", default="") or None,
        "file_overwrite": False, "default_acl": None, "querystring_auth": False,
    }}
elif EDGE_CHARTS_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"EDGE_CHARTS_STORAGE must be filesystem or s3, not {EDGE_CHARTS_STORAGE!r}")
EDGE_CHART_MAX_BYTES = env.int("EDGE_CHART_MAX_BYTES", default=20 * 1024 * 1024)  # the largest archive taken
# who the chart repositories (/chartrepo/, /api/chartrepo/) let in: bearer tokens, basic auth with a token, sessions
EDGE_CHART_AUTHENTICATION_CLASSES = ["iam.tokens.BearerTokenAuthentication", "iam.tokens.BasicTokenAuthentication",
                                     "rest_framework.authentication.SessionAuthentication"]

# Request bodies (edgeplatform/resources/documents.py): at most this many bytes (kube-apiserver's limit is 3 MiB),
# nested at most this deep; a larger body is refused with 413 before it is read.
EDGE_API_MAX_BODY = env.int("EDGE_API_MAX_BODY", default=3 * 1024 * 1024)
EDGE_API_MAX_DEPTH = env.int("EDGE_API_MAX_DEPTH", default=100)
DATA_UPLOAD_MAX_MEMORY_SIZE = EDGE_API_MAX_BODY

# App store: provisioners (appstore/provisioners/).
# Hosts under which the platform's own chart repositories are reached: a helmConfig.repository URL
# https://<one of them>/chartrepo/<name> is read from that repository of the store, without HTTP (Django's host
# patterns, ".example.com" for a domain and its subdomains; "*" is never taken to mean "any URL is ours").
EDGE_APPSTORE_CHARTREPO_HOSTS = env.list("EDGE_APPSTORE_CHARTREPO_HOSTS",
                                         default=[host for host in ALLOWED_HOSTS if host != "*"])
# The model provisioner's serving runtimes (JSON): runtime or framework name (lowercase) -> an image name, or
# {"image", "args", "port", "readinessPath", "kserveRuntime", "modelFormat"}; merged over the built-in map
# (appstore/provisioners/model.py RUNTIMES), an entry set to null removes one.
EDGE_MODEL_RUNTIME_IMAGES = env.json("EDGE_MODEL_RUNTIME_IMAGES", default={})
# The init container that fetches a model from its storageURI (s3://, gs://, http(s)://, hf://) into the volume the
# server reads: KServe's storage initializer, called with (storageURI, model directory).
EDGE_MODEL_STORAGE_INITIALIZER_IMAGE = env.str("EDGE_MODEL_STORAGE_INITIALIZER_IMAGE",
                                               default="kserve/storage-initializer:v0.14.1")
# Use KServe's InferenceService (serving.kserve.io/v1beta1) on clusters that serve it (false: always a plain
# Deployment and Service).
EDGE_MODEL_USE_KSERVE = env.bool("EDGE_MODEL_USE_KSERVE", default=True)
