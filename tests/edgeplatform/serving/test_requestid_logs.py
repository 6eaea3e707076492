"""Request ids and JSON logs: the id a request comes with (or gets) is on its answer and on every log record written
while it runs, the access record included."""
from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from edgeplatform.serving import requestid
from edgeplatform.serving.logs import logging_config
from edgeplatform.serving.requestid import RequestIDMiddleware


@pytest.fixture
def log_lines():
    """Every record logged meanwhile, formatted by the platform's own JSON configuration, as parsed lines."""
    stream = io.StringIO()
    config = logging_config("json", "INFO")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.config.dictConfigClass(config).configure_custom(dict(config["formatters"]["json"])))
    handler.addFilter(logging.config.dictConfigClass(config).configure_custom(dict(config["filters"]["request_id"])))
    root = logging.getLogger()
    root.addHandler(handler)
    before = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def _view(request):
    logging.getLogger("tests.view").warning("inside the view")
    return HttpResponse("ok")


def test_the_clients_request_id_is_on_the_answer_and_on_every_record_of_the_request(log_lines):
    # GIVEN a request carrying X-Request-ID
    request = RequestFactory().get("/anything", headers={"X-Request-ID": "trace-7"})
    # WHEN the middleware runs a view that logs
    response = RequestIDMiddleware(_view)(request)
    # THEN the answer carries the id, and so do the view's record and the access record
    assert response["X-Request-ID"] == "trace-7" and request.request_id == "trace-7"
    lines = log_lines()
    inside = next(line for line in lines if line["message"] == "inside the view")
    access = next(line for line in lines if line["logger"] == "edgeplatform.access")
    assert inside["request_id"] == access["request_id"] == "trace-7"
    assert inside["level"] == "WARNING" and inside["time"].endswith("Z")
    assert access["status"] == 200 and access["http_method"] == "GET" and access["path"] == "/anything"
    assert access["duration_ms"] >= 0 and access["bytes"] == 2
    # AND after the request, records carry no id
    logging.getLogger("tests.view").warning("after")
    assert log_lines()[-1]["request_id"] == ""


def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one():
    for header in ({}, {"X-Request-ID": "not an id; drop table"}, {"X-Request-ID": "x" * 65}):
        response = RequestIDMiddleware(_view)(RequestFactory().get("/", headers=header))
        made = response["X-Request-ID"]
        assert requestid.REQUEST_ID.match(made) and len(made) == 32 and made != header.get("X-Request-ID")


def test_the_whole_stack_answers_the_id_and_logs_djangos_own_records_under_it(client, db, log_lines):
    # GIVEN an API request refused (Django logs that after the middleware returned)
    response = client.get("/oapis/scope.theriseunion.io/v1alpha1/workspaces", headers={"X-Request-ID": "trace-8"})
    # THEN the answer and both records carry the id
    assert response.status_code == 401 and response["X-Request-ID"] == "trace-8"
    by_logger = {line["logger"]: line for line in log_lines()}
    assert by_logger["django.request"]["request_id"] == "trace-8"
    assert by_logger["edgeplatform.access"]["request_id"] == "trace-8"
    assert by_logger["edgeplatform.access"]["status"] == 401


def test_background_work_logs_under_its_audit_context(log_lines):
    from iam.audit.context import actor

    with actor("system:test", request_id="task-42"):
        logging.getLogger("tests.task").info("working")
    assert log_lines()[-1]["request_id"] == "task-42"


def test_an_exception_is_one_json_line_with_its_trace(log_lines):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("tests.error").exception("failed")
    line = log_lines()[-1]
    assert line["message"] == "failed" and "RuntimeError: boom" in line["exc_info"]


def test_the_text_format_and_a_wrong_one():
    assert "request_id" in logging_config("text")["formatters"]["text"]["format"]
    with pytest.raises(ValueError, match="EDGE_LOG_FORMAT"):
        logging_config("xml")
