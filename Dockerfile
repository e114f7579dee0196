# The job image of the example project: the framework (installed from this checkout as a
# wheel would be), the project in /srv, run as `docker run IMAGE job <name> [args]`.
#
# Build:  docker build -t django-jobs .
# Base:   --build-arg PYTHON_IMAGE=python:3.13-slim-trixie (any Debian-based Python 3.11+)

ARG PYTHON_IMAGE=python:3.13-slim-trixie

# --- build: dependencies from the lock file into a virtualenv, then the project -----------
FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.9
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m pip install --quiet "uv==${UV_VERSION}"
# mysqlclient (the mysql extra) builds from source against MariaDB's client library; the
# compiler and headers stay in this stage, the runtime gets the library alone (libmariadb3).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev pkg-config libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Dependencies first, so that a code change does not reinstall them. The "example" group is
# what the example project needs beyond the framework (django-environ, psycopg's binary);
# the "mysql" extra brings mysqlclient, so that a mysql:// DATABASE_URL works in the same image.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --group example --extra mysql --no-install-project \
      --python "$(command -v python3)"
COPY README.md ./
COPY jobs ./jobs
RUN uv sync --locked --no-dev --group example --extra mysql --no-editable \
      --python "$(command -v python3)"
# The project itself is not installed: it lives in /srv, on PYTHONPATH, compiled here because
# the runtime's root filesystem is read-only.
COPY manage.py /srv/
COPY app /srv/app
RUN /opt/venv/bin/python -m compileall -q /srv/app
# The console's static files (the admin's), served by WhiteNoise from /srv/staticfiles.
RUN cd /srv && /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0

# --- runtime: the virtualenv, tini and an unprivileged user ------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# libmariadb3: the client library mysqlclient was built against (MariaDB and MySQL servers).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini libmariadb3 \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric user, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" app \
 && useradd --system --uid "${APP_UID}" --gid app --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app \
 && install -d -o app -g app -m 0750 /var/lib/django-jobs/media
# /var/lib/django-jobs/media: uploaded files (DJANGO_MEDIA_ROOT); owned by the user, so that a
# named volume mounted there (compose's `media`) starts writable under a read-only root.

COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv /srv
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=app.settings \
    DJANGO_REQUIRE_DATABASE_URL=1

# Smoke test: the project loads and its checks pass (no database is needed for `check`), and
# Django's MySQL backend loads mysqlclient on the runtime's libmariadb3 (its checks would need
# a server: they read its version).
RUN DATABASE_URL=postgres://build@localhost/build job check >/dev/null \
 && python -c "import MySQLdb, django.db.backends.mysql.base"

USER ${APP_UID}:${APP_UID}
WORKDIR /tmp

# SIGTERM (Docker's and Kubernetes' stop signal) asks a job to stop after the current batch.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "docker-entrypoint.sh"]
CMD ["job", "--help"]
