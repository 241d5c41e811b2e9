FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=fairlabel.settings.production FAIRLABEL_VAR_DIR=/var/fairlabel
WORKDIR /app
COPY pyproject.toml README.md ./
COPY fairlabel ./fairlabel
COPY accounts ./accounts
COPY labeling ./labeling
COPY workers ./workers
COPY payments ./payments
RUN pip install --no-cache-dir .
COPY . .
RUN useradd --system --home /app fairlabel && mkdir -p /var/fairlabel \
    && chown -R fairlabel /var/fairlabel \
    && SECRET_KEY=build-only-not-secret-0123456789abcdefghijklmnopqrstuvwxyz \
       ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
USER fairlabel
EXPOSE 8000
CMD ["gunicorn", "fairlabel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4"]
