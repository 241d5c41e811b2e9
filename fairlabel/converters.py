"""`<id:...>` in URLs: a database id; `<signed:...>` a value signed by django.core.signing.

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


class SignedConverter:
    """A token of `django.core.signing.dumps` (base64url value, a colon, base64url signature).
    Only its shape is checked here; the view checks the signature (a forged one is a 404)."""

    regex = "[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{20,100}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SignedConverter, "signed")
