# bolsync on the official Apache Airflow image: the pinned dependency set (requirements.txt, with the Celery
# provider), the project's three wheels (bolsync-provider, bolsync, bol-emulator) and the DAGs. Runs as
# user airflow.
#
#   docker build -t bolsync .                                   # on apache/airflow:3.3.2-python3.12
#   docker build --build-arg BASE_IMAGE=<image> -t bolsync .    # another base with the same layout
#
# Written for the classic builder too (no BuildKit syntax): Docker 20.10 and Compose 1.29 build it as is.
# Behind a TLS-inspecting proxy, put the CA bundle pip must trust at .pip-ca.crt in the build context
# (git-ignored; e.g. `cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" .pip-ca.crt`): both stages use
# it for pip only.
ARG BASE_IMAGE=apache/airflow:3.3.2-python3.12

# ---- stage 1: the project's wheels, built from the source tree (no dependencies resolved here)
FROM ${BASE_IMAGE} AS wheels
USER airflow
RUN mkdir -p /tmp/bolsync-src
WORKDIR /tmp/bolsync-src
COPY --chown=airflow:0 . .
RUN set -eu; \
    if [ -f .pip-ca.crt ]; then export PIP_CERT="$PWD/.pip-ca.crt"; fi; \
    mkdir -p /tmp/bolsync-req /tmp/bolsync-wheels; \
    cp requirements.txt /tmp/bolsync-req/; \
    if [ -f .pip-ca.crt ]; then cp .pip-ca.crt /tmp/bolsync-req/ca.crt; fi; \
    pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/bolsync-wheels ./plugins . ./include/emulator; \
    ls /tmp/bolsync-wheels

# ---- stage 2: the image
FROM ${BASE_IMAGE}
USER root
# Mount points of the compose file's named volumes, owned by airflow so fresh volumes are writable:
# staging (API pages shared by every worker), archive (raw API responses, for replay), auth (the simple auth
# manager's password file).
RUN mkdir -p /opt/airflow/staging /opt/airflow/archive /opt/airflow/auth /opt/airflow/bolsync \
    && chown airflow:0 /opt/airflow/staging /opt/airflow/archive /opt/airflow/auth /opt/airflow/bolsync \
    && chmod 0770 /opt/airflow/staging /opt/airflow/archive /opt/airflow/auth
USER airflow

# Dependencies first (this layer is rebuilt only when the lock changes): the whole lock, hashes checked
# when it carries them. It pins the CeleryExecutor's apache-airflow-providers-celery and celery[redis] < 5.7
# (celery 5.7 breaks the provider); the check after the install says so if a lock lacks them.
COPY --from=wheels --chown=airflow:0 /tmp/bolsync-req/ /tmp/bolsync-req/
RUN set -eu; \
    if [ -f /tmp/bolsync-req/ca.crt ]; then export PIP_CERT=/tmp/bolsync-req/ca.crt; fi; \
    pip install --no-cache-dir -r /tmp/bolsync-req/requirements.txt; \
    python -c "import airflow.providers.celery, celery, sys; \
sys.exit(0 if tuple(map(int, celery.__version__.split('.')[:2])) < (5, 7) else 'celery must be < 5.7')" \
        || { echo "requirements.txt must pin apache-airflow-providers-celery and celery[redis]<5.7" >&2; exit 1; }; \
    rm -rf /tmp/bolsync-req

# The project: its wheels without dependencies (all pinned above), then the DAGs and the pools and
# default Variables that airflow-init imports.
COPY --from=wheels --chown=airflow:0 /tmp/bolsync-wheels/ /tmp/bolsync-wheels/
RUN pip install --no-cache-dir --no-deps /tmp/bolsync-wheels/*.whl && rm -rf /tmp/bolsync-wheels
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/airflow/ /opt/airflow/bolsync/

ENV BOLSYNC_STAGING_DIR=/opt/airflow/staging
WORKDIR /opt/airflow
