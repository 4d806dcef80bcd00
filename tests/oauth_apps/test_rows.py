"""core.rows: each statement, compiled once or run as the plain ORM call it stands for
(settings.OAUTH_PRECOMPILED_STATEMENTS), runs the ORM's SQL and gives the ORM's results."""

from __future__ import annotations

import hashlib
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.db.utils import ConnectionDoesNotExist
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model, set_token_value

from core import rows
from oauth_apps.models import Application, AuditEvent, Scope, TokenFamily
from oauth_apps.selectors import FAMILY_WITH_ALLOWED_SCOPES

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()

GRANT_LOCKED_BY_CODE = rows.Select(Grant, filter_on=["code"], related=["user"], lock=True)
REFRESH_TOKEN_BY_CHECKSUM = rows.Select(
    RefreshToken,
    filter_on=["token_checksum"],
    related=["access_token", "user", "application"],
    order_by=[F("revoked").desc(nulls_first=True)],
    lock=True,
)
LIVE_REFRESH_TOKEN_BY_CHECKSUM = rows.Select(
    RefreshToken, filter_on=["token_checksum"], where=Q(revoked__isnull=True), related=["access_token"]
)
ACCESS_TOKEN_INSERT = rows.Insert(AccessToken)
REFRESH_TOKEN_INSERT = rows.Insert(RefreshToken)
REFRESH_TOKEN_REVOKE = rows.Update(RefreshToken, ["revoked", "updated"])
GRANT_DELETE = rows.Delete(Grant)


@pytest.fixture(params=[True, False], ids=["precompiled", "orm"])
def precompiled(request, settings) -> bool:
    settings.OAUTH_PRECOMPILED_STATEMENTS = request.param
    return request.param


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def new_access_token(application, user, raw: str = "raw-access-token") -> AccessToken:
    token = AccessToken(user=user, application=application, scope="openid", expires=timezone.now() + timedelta(hours=1))
    set_token_value(token, raw)
    return token


def stored_refresh_token(application, user, raw: str = "raw-refresh-token", **fields) -> RefreshToken:
    token = RefreshToken(user=user, application=application, token_family=uuid.uuid4(), **fields)
    set_token_value(token, raw)
    token.save()
    return token


def new_grant(application, user, code: str = "a-code") -> Grant:
    return Grant.objects.create(
        user=user,
        code=code,
        application=application,
        expires=timezone.now() + timedelta(minutes=1),
        redirect_uri="https://app.example.com/callback",
        scope="openid",
    )


# --- reads ------------------------------------------------------------------------------


def test_select_loads_the_row_and_its_related_rows_as_the_orm_does(precompiled, public_app, user):
    access = new_access_token(public_app, user)
    access.save()
    refresh = stored_refresh_token(public_app, user, access_token=access)

    loaded = REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=refresh.token_checksum)

    expected = RefreshToken.objects.select_related("access_token", "user", "application").get(pk=refresh.pk)
    assert field_values(loaded) == field_values(expected)
    assert loaded._state.db == "default" and not loaded._state.adding
    with CaptureQueriesContext(connection) as queries:
        assert field_values(loaded.access_token) == field_values(expected.access_token)
        assert field_values(loaded.user) == field_values(expected.user)
        assert field_values(loaded.application) == field_values(expected.application)
    assert len(queries) == 0, "the related rows come with the statement"
    assert REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum="no such checksum") is None


def test_select_converts_columns_as_the_orm_does(precompiled, public_app, user):
    refresh = stored_refresh_token(public_app, user, resource=["https://api.example.com"])

    loaded = LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=refresh.token_checksum)

    expected = RefreshToken.objects.get(pk=refresh.pk)
    assert isinstance(loaded.token_family, uuid.UUID) and loaded.token_family == refresh.token_family
    assert loaded.created == expected.created and timezone.is_aware(loaded.created)
    assert loaded.resource == ["https://api.example.com"]
    assert loaded.access_token is None  # the empty side of the LEFT JOIN


def test_values_are_prepared_as_the_orm_prepares_them(precompiled, public_app, user):
    family = TokenFamily.objects.create(
        family=uuid.uuid4(), user=user, application=public_app, scope="openid", auth_time=timezone.now()
    )

    # A UUID field given text: the lookup converts it, on SQLite to the stored hex.
    found = FAMILY_WITH_ALLOWED_SCOPES.all(family=str(family.pk))

    assert found and found[0].pk == family.pk


def test_where_conditions_are_fixed_in_the_statement(precompiled, public_app, user):
    refresh = stored_refresh_token(public_app, user, revoked=timezone.now())

    assert LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=refresh.token_checksum) is None


def test_order_by_puts_nulls_first(precompiled, public_app, user):
    now = timezone.now()
    stored_refresh_token(public_app, user, revoked=now - timedelta(minutes=2))
    latest = stored_refresh_token(public_app, user, revoked=now - timedelta(minutes=1))
    checksum = latest.token_checksum

    assert REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=checksum).pk == latest.pk

    live = stored_refresh_token(public_app, user)

    assert REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=checksum).pk == live.pk


def test_annotations_come_back_on_each_instance(precompiled, public_app, user):
    family = TokenFamily.objects.create(
        family=uuid.uuid4(), user=user, application=public_app, scope="openid email", auth_time=timezone.now()
    )
    Scope.objects.filter(name="email").update(is_active=False)

    found = FAMILY_WITH_ALLOWED_SCOPES.all(family=family.pk)

    assert {row.pk for row in found} == {family.pk}
    assert field_values(found[0]) == field_values(TokenFamily.objects.get(pk=family.pk))
    expected = set(public_app.allowed_scopes.filter(is_active=True).values_list("name", flat=True))
    # The inactive scope's link gives a row too, without the scope: as a LEFT JOIN does.
    assert {row.allowed_scope for row in found} == {*expected, None} and "email" not in expected

    public_app.allowed_scopes.clear()

    assert [row.allowed_scope for row in FAMILY_WITH_ALLOWED_SCOPES.all(family=family.pk)] == [None]
    assert FAMILY_WITH_ALLOWED_SCOPES.all(family=uuid.uuid4()) == []


def test_a_locking_select_locks_only_its_models_row(precompiled, public_app, user):
    grant = new_grant(public_app, user)

    with CaptureQueriesContext(connection) as queries:
        loaded = GRANT_LOCKED_BY_CODE.first(code="a-code")

    assert loaded.pk == grant.pk and loaded.user == user
    (sql,) = [query["sql"] for query in queries]
    if connection.vendor == "postgresql":
        assert sql.endswith(' LIMIT 1 FOR UPDATE OF "oauth2_provider_grant"')
    else:
        assert "FOR UPDATE" not in sql


# The data migrations' rows (scopes) are put back after this one.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_locking_select_needs_a_transaction_where_it_locks(precompiled):
    if connection.features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            GRANT_LOCKED_BY_CODE.first(code="a-code")
    with transaction.atomic():
        assert GRANT_LOCKED_BY_CODE.first(code="a-code") is None


# --- writes -----------------------------------------------------------------------------


@contextmanager
def save_signals():
    received = []

    def receiver(signal, **kwargs):
        received.append((signal, kwargs.get("created"), kwargs["update_fields"]))

    pre_save.connect(receiver)
    post_save.connect(receiver)
    try:
        yield received
    finally:
        pre_save.disconnect(receiver)
        post_save.disconnect(receiver)


def test_insert_stores_what_save_would(precompiled, public_app, user):
    token = new_access_token(public_app, user)

    with save_signals() as signals:
        ACCESS_TOKEN_INSERT.save(token)

    stored = AccessToken.objects.get(pk=token.pk)
    assert field_values(stored) == field_values(token)
    assert stored.token == ""  # RFC 9700 storage: the checksum only, computed by the field's pre_save
    assert stored.token_checksum == hashlib.sha256(b"raw-access-token").hexdigest()
    assert stored.created is not None and stored.updated is not None
    assert not token._state.adding and token._state.db == "default"
    assert signals == [(pre_save, None, None), (post_save, True, None)]


def test_insert_reads_back_what_the_database_generates(precompiled, db):
    event = AuditEvent(kind=AuditEvent.Kind.CLIENT_CREATED, actor="system")

    rows.Insert(AuditEvent, skips_own_save=True).save(event)

    assert field_values(AuditEvent.objects.get(pk=event.pk)) == field_values(event)


def test_insert_refuses_an_unsaved_related_object(precompiled, public_app, user):
    refresh = RefreshToken(user=user, application=public_app, access_token=new_access_token(public_app, user))
    set_token_value(refresh, "raw-refresh-token")

    with pytest.raises(ValueError, match="unsaved related object 'access_token'"):
        REFRESH_TOKEN_INSERT.save(refresh)


def test_insert_takes_only_new_instances(precompiled, public_app, user):
    token = new_access_token(public_app, user)
    token.save()

    with pytest.raises(ValueError, match="new AccessToken"):
        ACCESS_TOKEN_INSERT.save(token)


def test_update_writes_the_fields_and_moves_auto_now(precompiled, public_app, user):
    refresh = stored_refresh_token(public_app, user)
    before = refresh.updated
    refresh.revoked = timezone.now()

    with save_signals() as signals:
        REFRESH_TOKEN_REVOKE.save(refresh)

    stored = RefreshToken.objects.get(pk=refresh.pk)
    assert stored.revoked == refresh.revoked
    assert stored.updated == refresh.updated > before
    fields = frozenset({"revoked", "updated"})
    assert signals == [(pre_save, None, fields), (post_save, False, fields)]


def test_update_of_a_row_that_is_gone_fails_as_save_does(precompiled, public_app, user):
    refresh = stored_refresh_token(public_app, user)
    RefreshToken.objects.filter(pk=refresh.pk).delete()

    with pytest.raises(DatabaseError, match="did not affect any rows"):
        REFRESH_TOKEN_REVOKE.save(refresh)


def test_delete_removes_the_row_as_delete_does(precompiled, public_app, user):
    grant = new_grant(public_app, user)
    pk = grant.pk

    GRANT_DELETE.delete(grant)

    assert not Grant.objects.filter(pk=pk).exists()
    assert grant.pk is None


def test_delete_leaves_a_row_that_others_refer_to_to_the_orm(precompiled, public_app, user):
    access = new_access_token(public_app, user)
    access.save()

    rows.Delete(Application).delete(public_app)  # tokens, grants and consents point at it

    assert not Application.objects.filter(client_id=public_app.client_id).exists()
    assert not AccessToken.objects.filter(pk=access.pk).exists()


# --- both ways alike --------------------------------------------------------------------


@contextmanager
def executed():
    """The SQL text of each statement, before its parameters are bound."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def token_path(public_app, user) -> None:
    grant = new_grant(public_app, user, code=f"code-{uuid.uuid4()}")
    loaded = GRANT_LOCKED_BY_CODE.first(code=grant.code)
    access = new_access_token(public_app, user, raw=f"access-{uuid.uuid4()}")
    ACCESS_TOKEN_INSERT.save(access)
    refresh = RefreshToken(user=user, application=public_app, access_token=access, token_family=uuid.uuid4())
    set_token_value(refresh, f"refresh-{uuid.uuid4()}")
    REFRESH_TOKEN_INSERT.save(refresh)
    REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=refresh.token_checksum)
    LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=refresh.token_checksum)
    refresh.revoked = timezone.now()
    REFRESH_TOKEN_REVOKE.save(refresh)
    FAMILY_WITH_ALLOWED_SCOPES.all(family=uuid.uuid4())
    GRANT_DELETE.delete(loaded)


def test_both_ways_run_the_same_sql(settings, public_app, user):
    settings.OAUTH_PRECOMPILED_STATEMENTS = False
    with executed() as orm:
        token_path(public_app, user)
    settings.OAUTH_PRECOMPILED_STATEMENTS = True
    token_path(public_app, user)  # compiles
    with executed() as compiled:
        token_path(public_app, user)

    assert compiled == orm
    assert len(orm) == 9  # the grant's creation, then one per statement


# --- routers ----------------------------------------------------------------------------


class RecordingRouter:
    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self.asked = []

    def db_for_read(self, model, **hints):
        self.asked.append(("read", model, hints.get("instance") is not None))
        return self.alias

    def db_for_write(self, model, **hints):
        self.asked.append(("write", model, hints.get("instance") is not None))
        return self.alias


def test_statements_use_the_database_the_routers_choose(precompiled, settings, public_app, user):
    grant = new_grant(public_app, user)
    token, another = new_access_token(public_app, user), new_access_token(public_app, user, raw="another")
    router = RecordingRouter()
    settings.DATABASE_ROUTERS = [router]

    for run, asked in [
        # select_for_update() makes a read one for writing, as QuerySet.db does.
        (lambda: GRANT_LOCKED_BY_CODE.first(code=grant.code), {("write", Grant, False)}),
        (lambda: LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum="x"), {("read", RefreshToken, False)}),
        (lambda: ACCESS_TOKEN_INSERT.save(token), {("write", AccessToken, True)}),
        (lambda: GRANT_DELETE.delete(grant), {("write", Grant, True)}),
    ]:
        router.asked.clear()
        run()
        assert set(router.asked) == asked

    settings.DATABASE_ROUTERS = [RecordingRouter("elsewhere")]

    with pytest.raises(ConnectionDoesNotExist):
        LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum="x")
    with pytest.raises(ConnectionDoesNotExist):
        ACCESS_TOKEN_INSERT.save(another)


# --- misuse -----------------------------------------------------------------------------


def test_statements_take_field_names_and_plain_values_only(precompiled, db):
    with pytest.raises(TypeError, match="Give exactly code"):
        GRANT_LOCKED_BY_CODE.first(code="a", scope="b")
    with pytest.raises(TypeError, match="isnull"):
        LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=None)
    with pytest.raises(TypeError, match="expression"):
        LIVE_REFRESH_TOKEN_BY_CHECKSUM.first(token_checksum=F("token"))
    with pytest.raises(TypeError, match="own columns"):
        rows.Select(RefreshToken, filter_on=["user"])
    with pytest.raises(TypeError, match="own columns"):
        rows.Update(RefreshToken, ["access_token"])


def test_statements_refuse_models_they_would_store_differently():
    with pytest.raises(TypeError, match="not generated by the database"):
        rows.Insert(Session)
    with pytest.raises(TypeError, match="not generated by the database"):
        rows.Insert(TokenFamily)
    with pytest.raises(TypeError, match="overrides save"):
        rows.Insert(AuditEvent)
