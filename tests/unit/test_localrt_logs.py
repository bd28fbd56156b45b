"""The local text log's formatting of a function's output (localrt/logs.py)."""

from __future__ import annotations

from localrt.logs import format_record


def test_a_powertools_record_is_one_line_with_its_service_and_extras() -> None:
    record = (
        '{"level":"INFO","location":"x:1","message":"order confirmed","timestamp":"t","service":"orders",'
        '"cold_start":true,"function_request_id":"r","order_id":"ord_1","lines":2}'
    )
    assert format_record(record) == "INFO    orders        order confirmed  order_id=ord_1 lines=2"


def test_an_exception_follows_its_record() -> None:
    record = (
        '{"level":"ERROR","message":"boom","service":"payments","exception":"Traceback...\\nValueError: x"}'
    )
    assert format_record(record) == "ERROR   payments      boom\nTraceback...\nValueError: x"


def test_metric_blobs_are_left_out_and_other_lines_pass_through() -> None:
    assert format_record('{"_aws":{"Timestamp":1},"service":"orders","OrderConfirmed":[1.0]}') is None
    assert format_record("plain text\n") == "plain text"
    assert format_record("{not json") == "{not json"
    assert format_record('{"some": "json"}') == '{"some": "json"}'
