"""The token path's statements: declared in the ORM's terms, compiled to SQL once by the ORM's
own compiler, then run again with fresh values.

Building a QuerySet and compiling it cost the ORM more Python than PostgreSQL spends running
the statement (bench/README.md). A statement here is declared once, with field names and the
ORM's own expressions, never SQL text. On first use on a database connection it builds the
equivalent QuerySet (or InsertQuery, UpdateQuery, DeleteQuery) with placeholder values, asks
that query's compiler for its SQL and keeps it with the compiler; each call then puts the
caller's values where the compiler put the placeholders, each prepared by the lookup or field
that prepares it for the ORM. What comes back is turned into instances by the same compiler's
converters, `Model.from_db` and select_related's populators, as QuerySet iteration does.
Writes keep what `save()` and `delete()` do: the related-object check, the `pre_save` and
`post_save` signals, the fields' `pre_save` hooks (timestamps, DOT's token checksum), the
row-count check of an update, a transaction marked for rollback on error. Every statement
asks the database routers which database to use.

With `settings.OAUTH_PRECOMPILED_STATEMENTS` False each statement runs as the ORM call it
stands for (the QuerySet, `save()`, `delete()`): the same SQL, the same results.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import AutoField, F, Field, FilteredRelation, Model, Q, QuerySet
from django.db.models.deletion import Collector
from django.db.models.lookups import Lookup
from django.db.models.query import get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import DeleteQuery, InsertQuery, UpdateQuery
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError

from core import seams

M = TypeVar("M", bound=Model)
C = TypeVar("C")

_TEXT_FIELDS = frozenset({"CharField", "TextField", "SlugField", "EmailField", "URLField"})
_INTEGER_FIELDS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)


def precompiled() -> bool:
    return settings.OAUTH_PRECOMPILED_STATEMENTS


def _placeholder(field: Field) -> Any:
    """A value of `field`'s type that no other parameter of a statement will equal, so that
    where the compiler put it can be found among the compiled parameters."""
    kind = field.get_internal_type()
    if kind in _TEXT_FIELDS:
        return f"rows-placeholder-{uuid.uuid4().hex}"
    if kind in _INTEGER_FIELDS:
        return 2**30 + secrets.randbelow(2**30)
    if kind == "UUIDField":
        return uuid.uuid4()
    if kind == "DateTimeField":
        value = datetime(2000, 1, 1) + timedelta(microseconds=secrets.randbelow(10**15))
        return value.replace(tzinfo=UTC) if settings.USE_TZ else value
    raise TypeError(f"{field} is a {kind}: core.rows takes values for text, integer, UUID and datetime fields.")


def _locate(params: Sequence[Any], prepared: Any, what: str) -> int:
    found = [index for index, param in enumerate(params) if type(param) is type(prepared) and param == prepared]
    if len(found) != 1:
        raise TypeError(f"The compiled statement does not take {what} as one parameter: use the ORM for it.")
    return found[0]


def _check_plain(value: Any, name: str) -> None:
    if value is None:
        # The ORM would turn `name=None` into `IS NULL`: say that in the declaration instead.
        raise TypeError(f"{name} is None: declare an isnull condition in `where` instead.")
    if hasattr(value, "resolve_expression"):
        raise TypeError(f"{name} is an expression: core.rows takes plain values.")


@dataclass(frozen=True)
class _Slot:
    """Where a caller's value goes among a compiled statement's parameters, and the lookup
    that prepares it there."""

    name: str
    index: int
    lookup: type[Lookup]
    column: Any
    in_list: bool

    def prepared(self, value: Any, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> Any:
        lookup = self.lookup(self.column, [value] if self.in_list else value)
        _sql, params = lookup.process_rhs(compiler, connection)
        return params[0]


def _slot(
    model: type[Model],
    name: str,
    lookup_name: str,
    placeholder: Any,
    params: Sequence[Any],
    compiler: SQLCompiler,
    connection: BaseDatabaseWrapper,
) -> _Slot:
    field = model._meta.get_field(name)
    unplaced = _Slot(name, -1, field.get_lookup(lookup_name), field.get_col(model._meta.db_table), lookup_name == "in")
    index = _locate(params, unplaced.prepared(placeholder, compiler, connection), f"{model.__name__}.{name}")
    return _Slot(name, index, unplaced.lookup, unplaced.column, unplaced.in_list)


class _PerConnection(Generic[C]):
    """What a statement compiled for each database connection it ran on.

    Django's connections belong to one thread each, and a compiler keeps the connection it
    compiled for (its converters are given it): so one compilation per alias per thread,
    which under gunicorn's sync workers is once per alias per process.
    """

    def __init__(self, compile_for: Callable[[BaseDatabaseWrapper], C]) -> None:
        self.compile_for = compile_for
        self.local = threading.local()

    def get(self, connection: BaseDatabaseWrapper) -> C:
        compiled = getattr(self.local, "compiled", None)
        if compiled is None:
            compiled = self.local.compiled = {}
        entry = compiled.get(connection.alias)
        if entry is None or entry[0] is not connection:
            entry = compiled[connection.alias] = (connection, self.compile_for(connection))
        return entry[1]


def _overrides(model: type[Model], method: str) -> bool:
    return getattr(model, method) is not getattr(Model, method)


# --- reads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CompiledSelect:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[_Slot, ...]
    compiler: SQLCompiler
    converters: dict[int, Any]
    model_columns: slice
    init_list: list[str]
    populators: list[Any]
    annotations: dict[str, int]


class Select(Generic[M]):
    """`model.objects.select_related(*related).annotate(**annotate).filter(where, **values)
    .order_by(*order_by)`, with `.select_for_update(of=("self",))` when `lock`: `.first()`
    takes its first row (`[:1]`, no ordering added), `.all()` every row.

    `filter_on` names the fields callers give values for (exact matches); fixed conditions go
    in `where`. `lock` locks the model's row only, not the related ones, where the database
    has row locks, and like select_for_update() needs a transaction.
    """

    def __init__(
        self,
        model: type[M],
        *,
        filter_on: Sequence[str],
        where: Q | None = None,
        related: Sequence[str] = (),
        annotate: Mapping[str, Any] | None = None,
        order_by: Sequence[str | F | Any] = (),
        lock: bool = False,
    ) -> None:
        for name in filter_on:
            field = model._meta.get_field(name)
            if not field.concrete or field.is_relation:
                raise TypeError(f"filter_on takes the model's own columns; {name} is not one.")
        self.model = model
        self.filter_on = tuple(filter_on)
        self.where = where if where is not None else Q()
        self.related = tuple(related)
        self.annotate = dict(annotate or {})
        self.order_by = tuple(order_by)
        self.lock = lock
        self.compiled_first = _PerConnection(lambda connection: self.compile(connection, first=True))
        self.compiled_all = _PerConnection(lambda connection: self.compile(connection, first=False))

    def queryset(self, connection: BaseDatabaseWrapper, values: Mapping[str, Any], *, first: bool) -> QuerySet[M]:
        """The statement as the ORM's QuerySet, for `values`."""
        queryset = self.model._default_manager.all()
        if self.related:
            queryset = queryset.select_related(*self.related)
        if self.annotate:
            # annotate() rewrites a FilteredRelation it is given: each query gets its own copy.
            annotations = {
                name: value.clone() if isinstance(value, FilteredRelation) else value
                for name, value in self.annotate.items()
            }
            queryset = queryset.annotate(**annotations)
        queryset = queryset.filter(self.where, **values)
        if self.order_by:
            queryset = queryset.order_by(*self.order_by)
        if self.lock:
            of = ("self",) if connection.features.has_select_for_update_of else ()
            queryset = queryset.select_for_update(of=of)
        return queryset[:1] if first else queryset

    def first(self, **values: Any) -> M | None:
        found = self.run(values, first=True)
        return found[0] if found else None

    def all(self, **values: Any) -> list[M]:
        return self.run(values, first=False)

    def run(self, values: Mapping[str, Any], *, first: bool) -> list[M]:
        if set(values) != set(self.filter_on):
            raise TypeError(f"Give exactly {', '.join(self.filter_on)}.")
        for name, value in values.items():
            _check_plain(value, name)
        # As QuerySet.db chooses: select_for_update() makes the query one for writing.
        using = router.db_for_write(self.model) if self.lock else router.db_for_read(self.model)
        connection = connections[using]
        if not precompiled():
            return list(self.queryset(connection, values, first=first))
        if self.lock and connection.features.has_select_for_update and connection.get_autocommit():
            # What the compiler checks each time it compiles a locking query.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        compiled = (self.compiled_first if first else self.compiled_all).get(connection)
        params = list(compiled.params)
        for slot in compiled.slots:
            params[slot.index] = slot.prepared(values[slot.name], compiled.compiler, connection)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [self.instance(compiled, using, row) for row in rows]

    def instance(self, compiled: _CompiledSelect, using: str, row: Sequence[Any]) -> M:
        # As QuerySet iteration (ModelIterable) builds each instance.
        instance = self.model.from_db(using, compiled.init_list, row[compiled.model_columns])
        for populator in compiled.populators:
            populator.populate(row, instance)
        for name, position in compiled.annotations.items():
            setattr(instance, name, row[position])
        return instance

    def compile(self, connection: BaseDatabaseWrapper, *, first: bool) -> _CompiledSelect:
        placeholders = {name: _placeholder(self.model._meta.get_field(name)) for name in self.filter_on}
        compiler = self.queryset(connection, placeholders, first=first).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        selected = [column for column, _sql, _alias in compiler.select[: compiler.col_count]]
        if compiler.has_extra_select or compiler.has_composite_fields(selected):
            raise TypeError(f"{self.model.__name__}: core.rows reads plain columns only; use the ORM.")
        slots = tuple(
            _slot(self.model, name, "exact", placeholder, params, compiler, connection)
            for name, placeholder in placeholders.items()
        )
        klass_info = compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _CompiledSelect(
            sql=sql,
            params=tuple(params),
            slots=slots,
            compiler=compiler,
            converters=compiler.get_converters(selected),
            model_columns=slice(start, end),
            init_list=[column.target.attname for column, _sql, _alias in compiler.select[start:end]],
            populators=get_related_populators(klass_info, compiler.select, connection.alias),
            annotations=dict(compiler.annotation_col_map or {}),
        )


# --- writes -----------------------------------------------------------------------------


def _check_save_override(model: type[Model], method: str, skips_own: bool) -> None:
    if _overrides(model, method) and not skips_own:
        raise TypeError(
            f"{model.__name__} overrides {method}(), which core.rows does not call: use the ORM, "
            f"or declare it with skips_own_{method}=True if that method has nothing to do here."
        )


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    fields: list[Field]
    compiler: Any
    returning: list[Field]
    converters: dict[int, Any]


class Insert(Generic[M]):
    """`instance.save(force_insert=True)` for a new instance of `model`, whose primary key the
    database generates."""

    def __init__(self, model: type[M], *, skips_own_save: bool = False) -> None:
        meta = model._meta
        if meta.auto_field is None or meta.auto_field is not meta.pk:
            raise TypeError(f"{model.__name__}'s primary key is not generated by the database.")
        if meta.parents:
            raise TypeError(f"{model.__name__} inherits a table: use the ORM.")
        _check_save_override(model, "save", skips_own_save)
        self.model = model
        self.compiled = _PerConnection(self.compile)

    def save(self, instance: M) -> None:
        if type(instance) is not self.model or instance.pk is not None or not instance._state.adding:
            raise ValueError(f"Insert takes a new {self.model.__name__}, without a primary key.")
        using = router.db_for_write(self.model, instance=instance)
        connection = connections[using]
        if not precompiled() or any(
            hasattr(getattr(instance, field.attname), "resolve_expression") for field in self.model._meta.fields
        ):
            # An expression (or a database default) changes the SQL: the ORM compiles its own.
            instance.save(force_insert=True)
            return
        compiled = self.compiled.get(connection)
        seams.model_check_related_before_save(instance)
        pre_save.send(sender=self.model, instance=instance, raw=False, using=using, update_fields=None)
        values = [compiled.compiler.pre_save_val(field, instance) for field in compiled.fields]
        for field, value in zip(compiled.fields, values, strict=True):
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"{field}'s pre_save() gave an expression: use the ORM for {self.model.__name__}.")
        params = [
            compiled.compiler.prepare_value(field, value) for field, value in zip(compiled.fields, values, strict=True)
        ]
        with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            returned = self.returned(compiled, connection, cursor)
        for value, field in zip(returned, compiled.returning, strict=False):
            setattr(instance, field.attname, value)
        instance._state.db = using
        instance._state.adding = False
        post_save.send(sender=self.model, instance=instance, created=True, update_fields=None, raw=False, using=using)

    def returned(self, compiled: _CompiledInsert, connection: BaseDatabaseWrapper, cursor: Any) -> Sequence[Any]:
        # As SQLInsertCompiler.execute_sql reads them back for one row.
        meta = self.model._meta
        if not compiled.returning:
            return ()
        if connection.features.can_return_columns_from_insert:
            row = connection.ops.fetch_returned_insert_columns(cursor, compiled.compiler.returning_params)
        else:
            row = (connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column),)
        if compiled.converters:
            row = next(compiled.compiler.apply_converters([row], compiled.converters))
        return row

    def compile(self, connection: BaseDatabaseWrapper) -> _CompiledInsert:
        meta = self.model._meta
        # The fields Model.save() inserts, and reads back, for a new instance.
        fields = [field for field in meta.local_concrete_fields if not field.generated and field is not meta.auto_field]
        returning = list(meta.db_returning_fields)
        query = InsertQuery(self.model)
        query.insert_values(fields, [self.model()])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = returning
        statements = compiler.as_sql()
        if len(statements) != 1 or len(statements[0][1]) != len(fields) or compiler.returning_params:
            raise TypeError(f"{self.model.__name__}: the ORM inserts it in a way core.rows does not repeat.")
        if not connection.features.can_return_columns_from_insert:
            returning = returning[:1] if returning and isinstance(returning[0], AutoField) else []
        columns = [field.get_col(meta.db_table) for field in returning]
        return _CompiledInsert(
            sql=statements[0][0],
            fields=fields,
            compiler=compiler,
            returning=returning,
            converters=compiler.get_converters(columns),
        )


@dataclass(frozen=True)
class _CompiledUpdate:
    sql: str
    pk: _Slot
    compiler: Any


class Update(Generic[M]):
    """`instance.save(update_fields=fields)`: writes those fields of a stored instance."""

    def __init__(self, model: type[M], fields: Sequence[str], *, skips_own_save: bool = False) -> None:
        named = [model._meta.get_field(name) for name in fields]
        # In the model's order, as save(update_fields=...) writes them.
        self.fields = [field for field in model._meta.local_concrete_fields if field in named]
        for field in named:
            if not field.concrete or field.is_relation or field.primary_key or field.generated:
                raise TypeError(f"Update writes the model's own columns; {field.name} is not one.")
        if model._meta.parents:
            raise TypeError(f"{model.__name__} inherits a table: use the ORM.")
        _check_save_override(model, "save", skips_own_save)
        self.model = model
        if len(self.fields) != len(named):
            raise TypeError(f"Update writes the model's own columns; {', '.join(fields)} are not all such.")
        self.field_names = frozenset(field.name for field in self.fields)
        self.compiled = _PerConnection(self.compile)

    def save(self, instance: M) -> None:
        if type(instance) is not self.model:
            raise ValueError(f"Update takes a {self.model.__name__}.")
        if instance.pk is None:
            raise ValueError("Cannot force an update in save() with no primary key.")
        using = router.db_for_write(self.model, instance=instance)
        connection = connections[using]
        if not precompiled() or any(
            hasattr(getattr(instance, field.attname), "resolve_expression") for field in self.fields
        ):
            instance.save(update_fields=self.field_names)
            return
        compiled = self.compiled.get(connection)
        seams.model_check_related_before_save(instance)
        pre_save.send(sender=self.model, instance=instance, raw=False, using=using, update_fields=self.field_names)
        values = [field.pre_save(instance, False) for field in self.fields]
        for field, value in zip(self.fields, values, strict=True):
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"{field}'s pre_save() gave an expression: use the ORM for {self.model.__name__}.")
        params = [
            field.get_db_prep_save(value, connection=connection)
            for field, value in zip(self.fields, values, strict=True)
        ]
        params.append(compiled.pk.prepared(instance.pk, compiled.compiler, connection))
        with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            updated = cursor.rowcount
        if not updated:
            raise DatabaseError("Save with update_fields did not affect any rows.")
        instance._state.db = using
        instance._state.adding = False
        post_save.send(
            sender=self.model, instance=instance, created=False, update_fields=self.field_names, raw=False, using=using
        )

    def compile(self, connection: BaseDatabaseWrapper) -> _CompiledUpdate:
        pk = self.model._meta.pk
        placeholders = [_placeholder(field) for field in self.fields]
        pk_placeholder = _placeholder(pk)
        query = UpdateQuery(self.model)
        query.add_filter("pk", pk_placeholder)
        query.add_update_fields([(field, None, value) for field, value in zip(self.fields, placeholders, strict=True)])
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        prepared = [
            field.get_db_prep_save(value, connection=connection)
            for field, value in zip(self.fields, placeholders, strict=True)
        ]
        pk_slot = _slot(self.model, pk.name, "exact", pk_placeholder, params, compiler, connection)
        # The values first, in the order given, then the primary key: as SQLUpdateCompiler writes them.
        if list(params) != [*prepared, params[pk_slot.index]] or pk_slot.index != len(prepared):
            raise TypeError(f"{self.model.__name__}: the ORM updates it in a way core.rows does not repeat.")
        return _CompiledUpdate(sql=sql, pk=pk_slot, compiler=compiler)


@dataclass(frozen=True)
class _CompiledDelete:
    sql: str
    pk: _Slot
    compiler: Any


class Delete(Generic[M]):
    """`instance.delete()`, for an instance the ORM deletes in one statement (nothing to
    cascade to, no delete signal receivers); any other goes to `delete()` itself."""

    def __init__(self, model: type[M]) -> None:
        if _overrides(model, "delete"):
            raise TypeError(f"{model.__name__} overrides delete(), which core.rows does not call: use the ORM.")
        self.model = model
        self.compiled = _PerConnection(self.compile)

    def delete(self, instance: M) -> None:
        if type(instance) is not self.model:
            raise ValueError(f"Delete takes a {self.model.__name__}.")
        if instance.pk is None:
            raise ValueError(
                f"{self.model._meta.object_name} object can't be deleted because its "
                f"{self.model._meta.pk.attname} attribute is set to None."
            )
        using = router.db_for_write(self.model, instance=instance)
        connection = connections[using]
        # The test Model.delete() passes before it deletes one row with one statement.
        if not precompiled() or not Collector(using=using, origin=instance).can_fast_delete(instance):
            instance.delete()
            return
        compiled = self.compiled.get(connection)
        params = [compiled.pk.prepared(instance.pk, compiled.compiler, connection)]
        with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
        setattr(instance, self.model._meta.pk.attname, None)

    def compile(self, connection: BaseDatabaseWrapper) -> _CompiledDelete:
        pk = self.model._meta.pk
        placeholder = _placeholder(pk)
        # As Collector.delete() deletes a single instance (DeleteQuery.delete_batch).
        query = DeleteQuery(self.model)
        query.add_filter(f"{pk.attname}__in", [placeholder])
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        pk_slot = _slot(self.model, pk.name, "in", placeholder, params, compiler, connection)
        if len(params) != 1:
            raise TypeError(f"{self.model.__name__}: the ORM deletes it in a way core.rows does not repeat.")
        return _CompiledDelete(sql=sql, pk=pk_slot, compiler=compiler)
