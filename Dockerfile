# The production image: the one-off migrate job, web (gunicorn), the Celery worker and beat all
# run from it (docker-compose.yml). It runs as the unprivileged user `tandem`.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=procurement.settings.production
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY . .
# var/ is the user's: collectstatic writes var/staticfiles at build time, uploads go to var/media
# (a volume: made here so that a new volume takes this owner).
RUN pip install --no-cache-dir . && useradd --create-home tandem \
    && mkdir -p /app/var/media && chown -R tandem /app/var
USER tandem
# collectstatic needs the production settings but none of their secrets: a throw-away key, made here.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=build \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput
EXPOSE 8000
# Workers, timeouts and the rest from the environment: deploy/gunicorn.conf.py.
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "procurement.wsgi"]
