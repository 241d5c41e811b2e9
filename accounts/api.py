from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import role_of
from accounts.selectors import pseudonym_of
from accounts.throttling import LoginRateThrottle
from fairlabel.api_errors import ErrorOut
from fairlabel.errors import DomainError


class TokenIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)  # Django's limit; axes stores it too
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


class TokenApi(APIView):
    """Exchange a username and password for an API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=TokenIn,
        responses={
            200: TokenOut,
            400: ErrorOut,
            429: OpenApiResponse(ErrorOut, description="Log-in delayed or address locked out."),
        },
    )
    def post(self, request):
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request=request._request, **data.validated_data)
        if user is None:
            raise DomainError("invalid_credentials", "Wrong username or password.", status=400)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    pseudonym = serializers.CharField()
    country = serializers.CharField()
    timezone = serializers.CharField()


class MeApi(APIView):
    """Who the caller is: user, role and pseudonym."""

    @extend_schema(responses=MeOut)
    def get(self, request):
        user = request.user
        profile = getattr(user, "profile", None)
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "role": role_of(user),
                "pseudonym": pseudonym_of(user),
                "country": profile.country if profile else "",
                "timezone": profile.timezone if profile else "UTC",
            }
        )
