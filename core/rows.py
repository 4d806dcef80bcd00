"""The few statements every token request runs, as SQL built once per process.

Building and compiling a query costs the ORM more than running it costs PostgreSQL: about
0.35 ms of Python against a 0.15 ms round trip per statement on the benchmark machine
(bench/README.md). These statements are built from the models' own field lists when first
used, run with fresh parameters, and give back ordinary model instances, so the code that
uses them reads like the ORM. Field hooks (`pre_save`, `from_db_value`) and the database's
conversions still run; model signals don't, and none of these models has a receiver.
"""

# The statements are assembled from model metadata and constants of this project; values
# always travel as parameters.
# ruff: noqa: S608
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, cached_property
from typing import Any

from django.db import connection
from django.db.models import Model


class Select:
    """`SELECT model [, related ...] FROM model [JOIN related ...] WHERE ... [ORDER BY ...] LIMIT 1`.

    `related` names foreign keys of `model` loaded in the same query (as select_related
    does); `where` and `order_by` call the model's table `t` and take `%s` parameters.
    `lock` locks the model's row, not the related ones (FOR UPDATE OF t), where the
    database has row locks.
    """

    def __init__(
        self,
        model: type[Model],
        where: str,
        *,
        related: Sequence[str] = (),
        order_by: str = "",
        lock: bool = False,
    ) -> None:
        self.model = model
        self.where = where
        self.related = [model._meta.get_field(name) for name in related]
        self.order_by = order_by
        self.lock = lock

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        tables = [(self.model, "t")] + [(field.related_model, f"r{i}") for i, field in enumerate(self.related)]
        selected = ", ".join(
            f"{alias}.{quote(field.column)}" for model, alias in tables for field in model._meta.concrete_fields
        )
        joins = "".join(
            f" {'LEFT JOIN' if field.null else 'JOIN'} {quote(field.related_model._meta.db_table)} r{i}"
            f" ON r{i}.{quote(field.target_field.column)} = t.{quote(field.column)}"
            for i, field in enumerate(self.related)
        )
        sql = f"SELECT {selected} FROM {quote(self.model._meta.db_table)} t{joins} WHERE {self.where}"
        if self.order_by:
            sql += f" ORDER BY {self.order_by}"
        sql += " LIMIT 1"
        if self.lock and connection.features.has_select_for_update:
            sql += " FOR UPDATE OF t" if connection.features.has_select_for_update_of else " FOR UPDATE"
        return sql

    def first(self, *params: Any) -> Any:
        """The matching instance, with its related ones attached, or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        instance, rest = _instance(self.model, row)
        for field in self.related:
            related, rest = _instance(field.related_model, rest)
            setattr(instance, field.name, related)
        return instance


class SelectWithManyToMany:
    """One `model` row by primary key, with one column of each row that a many-to-many field,
    reached through one of its foreign keys, links to and that has `flag` set: e.g. a token
    family with the names of its client's active allowed scopes.

    `SELECT t.*, r.column FROM model t LEFT JOIN through m ON m.from = t.fk
    LEFT JOIN target r ON r.pk = m.to AND r.flag = %s WHERE t.pk = %s`: one row per linked
    row, or one with NULL when there is none.
    """

    def __init__(self, model: type[Model], *, via: str, many_to_many: str, column: str, flag: str) -> None:
        self.model = model
        self.foreign_key = model._meta.get_field(via)
        self.many_to_many = self.foreign_key.related_model._meta.get_field(many_to_many)
        target = self.many_to_many.related_model._meta
        self.column, self.flag = target.get_field(column), target.get_field(flag)

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        selected = ", ".join(f"t.{quote(field.column)}" for field in self.model._meta.concrete_fields)
        through = self.many_to_many.remote_field.through._meta.db_table
        target = self.many_to_many.related_model._meta
        return (
            f"SELECT {selected}, r.{quote(self.column.column)} FROM {quote(self.model._meta.db_table)} t"
            f" LEFT JOIN {quote(through)} m ON m.{quote(self.many_to_many.m2m_column_name())}"
            f" = t.{quote(self.foreign_key.column)}"
            f" LEFT JOIN {quote(target.db_table)} r ON r.{quote(target.pk.column)}"
            f" = m.{quote(self.many_to_many.m2m_reverse_name())} AND r.{quote(self.flag.column)} = %s"
            f" WHERE t.{quote(self.model._meta.pk.column)} = %s"
        )

    def get(self, pk: Any) -> tuple[Model | None, list[Any]]:
        """The instance (or None) and the column's values (none for no linked row)."""
        params = [True, self.model._meta.pk.get_db_prep_value(pk, connection)]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not rows:
            return None, []
        instance, _ = _instance(self.model, rows[0])
        return instance, [row[-1] for row in rows if row[-1] is not None]


def _instance(model: type[Model], row: Sequence[Any]) -> tuple[Model | None, Sequence[Any]]:
    """The instance made of the first columns of `row` (None for the empty side of a LEFT
    JOIN), and the columns left over."""
    fields = model._meta.concrete_fields
    values, rest = list(row[: len(fields)]), row[len(fields) :]
    if values[fields.index(model._meta.pk)] is None:
        return None, rest
    for index, column, converters in _converters(model, connection.vendor):
        for converter in converters:
            values[index] = converter(values[index], column, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], values), rest


@cache
def _converters(model: type[Model], vendor: str) -> list[tuple[int, Any, list[Callable[..., Any]]]]:
    """What the ORM's compiler would apply to each column read back (as its get_converters does)."""
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


class Insert:
    """`INSERT INTO model (...) VALUES (...)` for one new instance, stored as `save()` would
    store it: its fields' `pre_save` hooks run (timestamps, token checksums)."""

    def __init__(self, model: type[Model]) -> None:
        if not model._meta.pk.db_returning:
            raise TypeError(f"{model.__name__}'s primary key is not generated by the database.")
        self.model = model
        self.fields = [field for field in model._meta.concrete_fields if not field.primary_key]

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        table, pk = quote(self.model._meta.db_table), quote(self.model._meta.pk.column)
        return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}"

    def save(self, instance: Model) -> None:
        params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            instance.pk = cursor.fetchone()[0]
        instance._state.adding = False
        instance._state.db = connection.alias


class Update:
    """`UPDATE model SET <fields> WHERE pk = %s` for one instance, as `save(update_fields=...)`
    would write it: the fields' `pre_save` hooks run (an auto_now timestamp moves on)."""

    def __init__(self, model: type[Model], field_names: Sequence[str]) -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in field_names]

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.fields)
        table, pk = quote(self.model._meta.db_table), quote(self.model._meta.pk.column)
        return f"UPDATE {table} SET {assignments} WHERE {pk} = %s"

    def save(self, instance: Model) -> None:
        params = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [*params, instance.pk])


class Delete:
    """`DELETE FROM model WHERE pk = %s`, for a model no other table refers to (so there is
    nothing to cascade, which is what `QuerySet.delete()` spends its time finding out)."""

    def __init__(self, model: type[Model]) -> None:
        if model._meta.related_objects:
            raise TypeError(f"{model.__name__} rows are referred to: delete them with the ORM.")
        self.model = model

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        table, pk = quote(self.model._meta.db_table), quote(self.model._meta.pk.column)
        return f"DELETE FROM {table} WHERE {pk} = %s"

    def run(self, pk: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [pk])
