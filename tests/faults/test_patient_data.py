"""Patient data stays in the review centre (issue 13, "Data that must not change or leak").

A screening run on the real PostgreSQL and RabbitMQ: prescriptions for one patient with distinctive
values arrive on the HIS queue and over HTTP, a pharmacist claims and approves, one screening
meets a database fault (its table gone: the statement's bound values would carry the patient's
facts into the error log), and one request names the patient (refused: the API takes no names).
Every log line of every logger (JSON, as the services write them, at DEBUG) and every event
published (the outbox rows and every message on the events exchange) is then searched for the
patient's id, name and diagnoses: none may appear. The bus carries what dispensing needs: the
prescription's number and site, the pharmacist, and item codes with quantities.

What the review store keeps (data minimisation): the patient's id only as a keyed hash
(`patient_key`, HMAC-SHA256 with the service secret, 16 hex), and the clinical facts the checks
and the reviewing pharmacist need: age, sex, weight, pregnancy, lactation, allergies and the
coded diagnoses. No name or ID number is ever accepted (the schema refuses unknown fields).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Queue
from sqlalchemy import select, text

from services.prescription_review import store
from services.prescription_review.app import SPEC
from services.prescription_review.worker import HIS_QUEUE, his_inbox_worker
from shared.bus.rabbit_admin import declare_topology
from shared.bus.tables import bus_tables
from shared.bus.topology import EVENTS_EXCHANGE
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context, relay_loop
from shared.web.logging import configure_logging
from tests.service.prescription_review.review_support import body, load_reference
from tests.support.bus import Broker, create_database, drop_database, rabbitmqctl
from tests.support.waiting import wait_until
from tests.support.web import bearer, make_settings, table_dump

PATIENT_ID = f"PID-{uuid.uuid4().hex[:6]}-翠花"
PATIENT_NAME = "欧阳测试者"
DIAGNOSES = [{"code": "K30", "name": "功能性消化不良测试甲"}, {"code": "I10", "name": "原发性高血压测试乙"}]
NEEDLES = [PATIENT_ID, PATIENT_NAME, *(d["name"] for d in DIAGNOSES)]
# What an approval event may carry (review.prescription.approved): numbers, site, pharmacist, items.
BUS_FIELDS = {"prescription_id", "prescription_no", "site_code", "pharmacist", "approved_at", "approved_how",
              "knowledge_version", "lines"}  # fmt: skip

HIS, PH = bearer("his", name="his-1"), bearer("pharmacist", name="ph-1")


def patient(**extra: Any) -> dict[str, Any]:
    """The distinctive patient (the same one in every prescription of the run)."""
    return {"id": PATIENT_ID, "age_years": 50, "sex": "M", "weight_kg": 70, "allergies": ["青霉素"],
            "diagnoses": DIAGNOSES, **extra}  # fmt: skip


def flagged(no: str) -> dict[str, Any]:
    """Goes to the pharmacist: domperidone 20 mg tid (above 30 mg/d)."""
    return body(prescription_no=no, patient=patient(), items=[
        {"item_code": "YP000223", "dose": 20, "dose_unit": "mg", "frequency": "tid", "route": "oral", "days": 3, "quantity": 18},
    ])  # fmt: skip


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A vhost of its own on the machine's RabbitMQ, deleted afterwards."""
    vhost = f"countyhub_pd_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield Broker(vhost)
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)


@pytest.fixture
def review_ctx(broker: Broker) -> Iterator[ServiceContext]:
    """The review centre on a fresh PostgreSQL database, talking to the vhost."""
    url = create_database("countyhub_pd_review")
    ctx = build_context(SPEC, make_settings("prescription_review", url, broker_url=broker.url))
    upgrade(SPEC.migrations, ctx.engine)
    load_reference(ctx)
    try:
        yield ctx
    finally:
        ctx.engine.dispose()
        drop_database(url)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log record of every logger, as the services write them (JSON lines), at DEBUG."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("prescription_review", "DEBUG")
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def ask_his(broker: Broker, message: dict[str, Any]) -> dict[str, Any]:
    """Send one prescription on the HIS queue and wait for the answer."""
    reply = f"his-replies-{uuid.uuid4().hex[:8]}"
    with Connection(broker.url) as conn:
        Queue(reply, durable=True)(conn.default_channel).declare()
        conn.Producer().publish(message, routing_key=HIS_QUEUE, exchange="", serializer="json", reply_to=reply,
                                correlation_id="1", declare=[Queue(HIS_QUEUE, durable=True)])  # fmt: skip
        with conn.SimpleQueue(reply) as replies:
            got = replies.get(timeout=60)
            got.ack()
            return dict(got.payload)


def readable(raw: str | bytes) -> str:
    """A JSON text as a person reads it (\\uXXXX escapes decoded); other text as it is."""
    textual = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        return json.dumps(json.loads(textual), ensure_ascii=False)
    except ValueError:
        return textual


def test_no_patient_id_name_or_diagnosis_in_any_log_line_or_published_event(
    broker: Broker, review_ctx: ServiceContext, log_lines: io.StringIO
) -> None:
    ctx = review_ctx
    declare_topology(broker.url)
    tap = f"tap-{uuid.uuid4().hex[:8]}"  # sees every message on the events exchange
    with broker.channel() as ch:
        ch.queue_declare(tap, durable=True)
        ch.queue_bind(tap, EVENTS_EXCHANGE, routing_key="#")
    stop = threading.Event()
    workers = [threading.Thread(target=his_inbox_worker, args=(ctx, stop), daemon=True),
               threading.Thread(target=relay_loop, args=(ctx, stop, 0.05), daemon=True)]  # fmt: skip
    for w in workers:
        w.start()
    client = SPEC.create_app(ctx).test_client()
    try:
        # HIS queue intake: to the pharmacist.
        queued = ask_his(broker, flagged("R-PD-1"))
        assert queued.get("outcome") == "review", queued
        # Over HTTP: a clean one passes (an approval event), the queued one is claimed and approved.
        passed = client.post("/api/v1/screenings", json=body(prescription_no="R-PD-2", patient=patient()), headers=HIS)
        assert passed.status_code in (200, 201) and passed.get_json()["outcome"] == "pass", passed.get_json()
        assert client.post(f"/api/v1/reviews/{queued['id']}/claim", headers=PH).status_code == 200
        decided = client.post(f"/api/v1/reviews/{queued['id']}/decision", json={"decision": "approve"}, headers=PH)
        assert decided.status_code == 200, decided.get_json()
        # A request that names the patient is refused, naming the field, and writes nothing.
        named = client.post("/api/v1/screenings", json=flagged("R-PD-3") | {"patient": patient(name=PATIENT_NAME)}, headers=HIS)
        assert named.status_code == 422 and named.get_json()["errors"][0]["field"] == "patient.name"
        # Database faults mid-screening: PostgreSQL's error names the failing row (the whole screening,
        # the patient's clinical facts included) and SQLAlchemy's the statement's bound values.
        for fault, undo in (
            ("ALTER TABLE screenings ADD CONSTRAINT pd_fault CHECK (codes <> 'DOSE_ABOVE_MAX') NOT VALID",
             "ALTER TABLE screenings DROP CONSTRAINT pd_fault"),
            ("ALTER TABLE screenings RENAME TO screenings_away", "ALTER TABLE screenings_away RENAME TO screenings"),
        ):  # fmt: skip
            with ctx.engine.begin() as conn:
                conn.execute(text(fault))
            try:
                broken = client.post("/api/v1/screenings", json=flagged(f"R-PD-{uuid.uuid4().hex[:6]}"), headers=HIS)
                assert broken.status_code >= 500 and broken.mimetype == "application/problem+json"
                assert ask_his(broker, flagged(f"R-PD-{uuid.uuid4().hex[:6]}"))["status"] == 503
            finally:
                with ctx.engine.begin() as conn:
                    conn.execute(text(undo))
        outbox, _ = bus_tables(ctx.metadata)
        with ctx.factory() as s:
            envelopes = [readable(e) for e in s.execute(select(outbox.c.envelope)).scalars()]
        assert len(envelopes) == 2, "two approvals: the auto-pass and the pharmacist's"
        wait_until(lambda: broker.depth(tap) >= len(envelopes), timeout=60, what="the relay published the outbox")
    finally:
        stop.set()
        for w in workers:
            w.join(15)
    published: list[dict[str, Any]] = []
    with broker.channel() as ch:
        while True:
            method, props, raw = ch.basic_get(tap, auto_ack=True)
            if method is None:
                break
            published.append({"body": readable(raw), "headers": json.dumps(props.headers or {}, ensure_ascii=False, default=str)})
    assert len(published) == len(envelopes)

    logged = log_lines.getvalue()
    lines = [readable(line) for line in logged.splitlines() if line.strip()]
    assert any('"msg": "request"' in line for line in lines), "the access log lines were captured"
    assert any('"msg": "screened"' in line for line in lines), "the service's own log lines were captured"
    assert any("unhandled error" in line or "could not be screened" in line for line in lines), "the fault was logged"
    haystacks = {"log": "\n".join([logged, *lines]), "outbox": "\n".join(envelopes),
                 "bus": "\n".join(p["body"] + p["headers"] for p in published)}  # fmt: skip
    for where, haystack in haystacks.items():
        for needle in NEEDLES:
            assert needle not in haystack, f"{needle!r} leaked into the {where}"
    for message in published:
        data = json.loads(message["body"])["data"]
        assert set(data) <= BUS_FIELDS, set(data) - BUS_FIELDS
        assert all(set(line) == {"item_code", "quantity"} for line in data["lines"])
        assert data["site_code"] == "CW-H01"

    # Data minimisation: the id is kept only as a keyed hash; the clinical facts review needs stay.
    dump = json.dumps(table_dump(ctx), ensure_ascii=False, default=str)
    assert PATIENT_ID not in dump and PATIENT_NAME not in dump
    with ctx.factory() as s:
        kept = [r.prescription["patient"] for r in s.execute(select(store.screenings.c.prescription))]
    assert kept and all(set(p) == {"key", "age_years", "age_days", "sex", "weight_kg", "pregnant", "lactating",
                                   "allergies", "diagnoses"} for p in kept)  # fmt: skip
    assert all(p["diagnoses"] == DIAGNOSES for p in kept)


def test_masking_covers_bound_values_patient_fields_and_sql_echo() -> None:
    """The log filter on its own: what it masks, and that it keeps everything else."""
    from shared.web.logging import JsonFormatter, PatientDataFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    handler.addFilter(PatientDataFilter())
    log = logging.getLogger(f"test.masking.{uuid.uuid4().hex[:6]}")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    echo = logging.getLogger("sqlalchemy.engine.Engine.test")
    echo.propagate = False
    echo.addHandler(handler)
    echo.setLevel(logging.INFO)
    try:
        try:
            raise RuntimeError(f"(psycopg.errors.X) boom\n[SQL: INSERT INTO screenings (a) VALUES (%(a)s)]\n"
                               f"[parameters: {{'a': '{PATIENT_ID}'}}]\nDETAIL:  Failing row contains ({PATIENT_NAME}, x).")
        except RuntimeError:
            log.exception("unhandled error", extra={"request_id": "r1"})
        log.warning("database busy", extra={"error": f"[parameters: ('{DIAGNOSES[0]['name']}',)]", "site": "CW-H01"})
        log.info("screened", extra={"patient": "a1b2c3…", "patient_id": PATIENT_ID, "detail": {"diagnoses": DIAGNOSES}})
        log.info("snapshot", extra={"patient": {"id": PATIENT_ID}})
        echo.info("[generated in %s] %r", "0.1s", {"prescription": PATIENT_ID})
    finally:
        log.removeHandler(handler)
        echo.removeHandler(handler)
    out = stream.getvalue()
    for needle in NEEDLES:
        assert needle not in out
    records = [json.loads(line) for line in out.splitlines()]
    assert "[parameters: ***]" in records[0]["exc"] and "Failing row contains (***)" in records[0]["exc"]
    assert records[0]["request_id"] == "r1" and "[SQL: INSERT INTO screenings" in records[0]["exc"]
    assert records[1]["site"] == "CW-H01"
    assert records[2]["patient"] == "a1b2c3…" and records[2]["patient_id"] == "***"
    assert records[2]["detail"] == {"diagnoses": "***"}
    assert records[3]["patient"] == "***"
    assert records[4]["msg"].endswith("[parameters: ***]")
