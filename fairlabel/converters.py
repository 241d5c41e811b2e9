"""`<id:...>` in URLs: a database id.

Django's `<int:...>` takes any number of digits, and an id past PostgreSQL's bigint answered 500
("bigint out of range"). 18 digits always fit in a bigint; a longer number matches no URL: 404."""

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
